package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

// diffCmd is pgsnap diff.
func diffCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff [A [B]]",
		Short: "What changed between two snapshots: rows per table, objects added and removed, size",
		Long: `Compare snapshot A with snapshot B: every table's rows in each and the change (from the
manifests), the tables, indexes, functions and other objects added or removed (from the two
archives' tables of contents: only their heads are read), and the size change. B is the newest
snapshot of the target when not given, A the one before B.

Rows deleted by mistake show as a table whose rows dropped; run diff between older snapshots to
find the last one taken before the loss, then get the rows back with pgsnap export or
pgsnap restore --table ... --as ....

With --json, print one object: a and b (name, time, size, archive_size), tables (schema, name,
rows_a, rows_b, change, status: same, changed, added, removed, or unknown when a manifest has no
row counts), added and removed (type,
schema, name), size_change and archive_size_change.`,
		Example: `  pgsnap diff
  pgsnap diff app-20261123T030000Z app-20261124T030000Z
  pgsnap diff --json | jq '.tables[] | select(.change < 0)'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 2 {
				return usageError{fmt.Errorf("diff takes at most two snapshot names; see pgsnap list")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.shelf()
			if err != nil {
				return err
			}
			var names [2]string
			copy(names[:], args)
			d, err := s.Diff(cmd.Context(), names[0], names[1])
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			}
			return printDiff(a, d)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return reads(cmd, "SNAPSHOT_DIR", "SNAPSHOT_S3_URL", "SNAPSHOT_AGE_IDENTITY_FILE", "SNAPSHOT_TARGET", "SNAPSHOT_CONFIG")
}

func printDiff(a *app, d pgsnap.SnapshotDiff) error {
	fmt.Fprintf(a.stdout, "A  %s  %s  %s\n", d.A.Name, d.A.Time.Format(time.DateTime), diffSize(d.A.Size))
	fmt.Fprintf(a.stdout, "B  %s  %s  %s\n\n", d.B.Name, d.B.Time.Format(time.DateTime), diffSize(d.B.Size))
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS A\tROWS B\tCHANGE")
	for _, t := range d.Tables {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t, rowsOf(t.RowsA), rowsOf(t.RowsB), changeOf(t))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, part := range []struct {
		title string
		objs  []pgsnap.DiffObject
	}{{"added in B", d.Added}, {"removed in B", d.Removed}} {
		if len(part.objs) == 0 {
			continue
		}
		fmt.Fprintf(a.stdout, "\nObjects %s:\n", part.title)
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		for _, o := range part.objs {
			schema := o.Schema
			if schema == "" {
				schema = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", o.Type, schema, o.Name)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(d.Added) == 0 && len(d.Removed) == 0 {
		fmt.Fprintln(a.stdout, "\nNo object added or removed.")
	}
	fmt.Fprintf(a.stdout, "\nSize: %s -> %s (%s)\n", diffSize(d.A.Size), diffSize(d.B.Size), signedBytes(d.SizeChange))
	return nil
}

func rowsOf(n *int64) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprint(*n)
}

// changeOf is a table's change as people read it: "added", "removed", "+12", "-6 (-60.0%)".
func changeOf(t pgsnap.TableChange) string {
	switch {
	case t.Status == pgsnap.TableAdded || t.Status == pgsnap.TableRemoved:
		return t.Status
	case t.RowsA == nil || t.RowsB == nil:
		return "?"
	case t.Change == 0:
		return "0"
	}
	s := fmt.Sprintf("%+d", t.Change)
	if *t.RowsA > 0 {
		s += fmt.Sprintf(" (%+.1f%%)", float64(t.Change)*100/float64(*t.RowsA))
	}
	return s
}

func signedBytes(n int64) string {
	if n < 0 {
		return "-" + diffSize(-n)
	}
	return "+" + diffSize(n)
}

// diffSize is a size as people read it: 512 B, 20.3 KiB, 1.2 GiB.
func diffSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, unit := float64(n)/1024, 0
	for ; f >= 1024 && unit < 5; unit++ {
		f /= 1024
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGTP"[unit])
}
