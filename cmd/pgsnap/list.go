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
	"github.com/pgsnap/pgsnap/httpapi"
)

func (a *app) listCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List complete snapshots, newest first",
		Long: `List every complete snapshot in every destination, of every target, newest first; --target
(SNAPSHOT_TARGET) narrows it to one. With a configuration file (--config) it reads the
destinations of all its targets and servers. COPIES says how many destinations hold a snapshot;
an incomplete one is copied to the others by sync. KIND marks a pinned snapshot, and a DAMAGED
one (its data missing or of the wrong size, or found damaged by verify or a drill): retention
never counts it.
With --json, print an array of manifests: name, target, slot (null for a manual snapshot),
started_at, finished_at, size, sha256, format, compression, encrypted, pg_dump_version,
server_version, labels, rows (per table), parts, pinned and pin_reason, damaged (why), drill and
check (the latest restore drill and verification), and more.`,
		Example: `  pgsnap list
  pgsnap list --config pgsnap.yaml --target billing
  pgsnap list --json | jq -r '.[0].name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStores()
			if err != nil {
				return err
			}
			narrow, _ := a.lookup("SNAPSHOT_TARGET")
			snaps, err := st.list(cmd.Context(), narrow)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]listedJSON, len(snaps))
				for i, sn := range snaps {
					out[i] = listedJSON{Snapshot: sn, Pinned: sn.Pinned, PinReason: sn.PinReason}
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
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
				if sn.Damaged != "" {
					kind += ",DAMAGED"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(sn.Name), cell(sn.Target), kind,
					sn.Time().UTC().Format(time.DateTime), httpapi.HumanBytes(sn.StoredSize()), sn.Duration().Round(time.Millisecond),
					rowsColumn(sn), drillColumn(sn.Drill), cell(copiesColumn(sn)), labelsColumn(sn))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return reads(cmd, "SNAPSHOT_DIR", "SNAPSHOT_S3_URL", "SNAPSHOT_TARGET", "SNAPSHOT_CONFIG")
}

// cell is one table cell of something others may have stored (names, labels): control
// characters escaped, so it cannot drive the terminal, break the line or shift the columns.
func cell(s string) string { return httpapi.Printable(s) }

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
		parts[i] = cell(k) + "=" + cell(sn.Labels[k])
	}
	return strings.Join(parts, ",")
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

// listedJSON is a snapshot as list --json prints it: pinned and pin_reason always present.
type listedJSON struct {
	pgsnap.Snapshot
	Pinned    bool   `json:"pinned"`
	PinReason string `json:"pin_reason"`
}
