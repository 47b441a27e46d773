package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

func (a *app) listCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List complete snapshots, newest first",
		Long: `List every complete snapshot in every destination (of any target), newest first. COPIES says\nhow many destinations hold it; an incomplete one is copied to the others by sync.
With --json, print an array of manifests: name, target, slot (null for a manual snapshot),
started_at, finished_at, size, sha256, format, compression, encrypted, pg_dump_version,
server_version, labels, rows (per table), and drill (the latest restore drill), and more.`,
		Example: `  pgsnap list
  pgsnap list --json | jq -r '.[0].name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.shelf()
			if err != nil {
				return err
			}
			snaps, err := s.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if snaps == nil {
					snaps = []pgsnap.Snapshot{}
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(snaps)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTARGET\tKIND\tTIME (UTC)\tSIZE\tDURATION\tROWS\tLAST DRILL\tCOPIES\tLABELS")
			for _, sn := range snaps {
				kind := "manual"
				if sn.Slot != nil {
					kind = "scheduled"
				}
				if sn.Pinned {
					kind += ",pinned"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sn.Name, sn.Target, kind,
					sn.Time().UTC().Format(time.DateTime), humanBytes(sn.StoredSize()), sn.Duration().Round(time.Millisecond),
					rowsColumn(sn), drillColumn(sn.Drill), copiesColumn(sn), labelsColumn(sn))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// copiesColumn says how many destinations hold the snapshot, and which lack it: an incomplete
// snapshot waits for sync.
func copiesColumn(sn pgsnap.Snapshot) string {
	have, all := len(sn.StoredIn), len(sn.StoredIn)+len(sn.Missing)
	if len(sn.Missing) == 0 {
		return fmt.Sprintf("%d/%d", have, all)
	}
	return fmt.Sprintf("%d/%d incomplete, missing %s", have, all, strings.Join(sn.Missing, ", "))
}

func labelsColumn(sn pgsnap.Snapshot) string {
	if len(sn.Labels) == 0 {
		return "-"
	}
	keys := slices.Sorted(maps.Keys(sn.Labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + sn.Labels[k]
	}
	return strings.Join(parts, ",")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func rowsColumn(sn pgsnap.Snapshot) string {
	if sn.Rows == nil {
		return "-"
	}
	var n int64
	for _, r := range sn.Rows {
		n += r
	}
	return fmt.Sprintf("%d in %d tables", n, len(sn.Rows))
}

func drillColumn(d *pgsnap.Drill) string {
	switch {
	case d == nil:
		return "-"
	case d.OK:
		return "ok " + d.At.UTC().Format(time.DateTime)
	}
	return "FAILED " + d.At.UTC().Format(time.DateTime)
}
