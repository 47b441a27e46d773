package main

import (
	"bufio"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

// exportCmd is pgsnap export. The commands added for one table are functions of the app, not
// methods: the app's method count is held to the architecture's limit.
func exportCmd(a *app) *cobra.Command {
	var table, format string
	var listTables bool
	cmd := &cobra.Command{
		Use:   "export NAME --table SCHEMA.TABLE [--format csv|text|jsonl] | export NAME --list-tables",
		Short: "Write one table's rows from a snapshot to stdout, no database involved",
		Long: `Write the rows of one table of a snapshot ("latest" for the newest) to stdout, read from the
stored snapshot alone: no database is involved, encrypted snapshots need SNAPSHOT_AGE_IDENTITY_FILE.

  csv    (default) exactly what COPY schema.table TO STDOUT WITH (FORMAT csv, HEADER true) prints
  text   COPY's text format (tab-separated, \N for NULL), as COPY ... TO STDOUT prints it
  jsonl  one JSON object per row: keys the column names, values the columns' text, NULL as null

The row count is checked against the manifest. The stored bytes are read to their end and checked
against the manifest's SHA-256 when that at most doubles the work; otherwise the export stops after
its table and says so (pgsnap verify checks the rest).

Name the table as schema.table, or table when one schema only has it; quote a name as in SQL
("Odd Schema"."My Table"). An unknown table exits with status 2, naming close ones.
--list-tables prints every table the snapshot holds data for, with its row count.`,
		Example: `  pgsnap export latest --table public.orders > orders.csv
  pgsnap export app-20261124T030000Z --table app.accounts --format jsonl | jq .email
  pgsnap export latest --list-tables`,
		Args: exactArgs(1, `a snapshot name ("latest" for the newest); see pgsnap list`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if listTables == (table != "") {
				return usageError{errors.New("export takes --table SCHEMA.TABLE or --list-tables")}
			}
			switch format {
			case pgsnap.ExportCSV, pgsnap.ExportText, pgsnap.ExportJSONL:
			default:
				return usageError{fmt.Errorf("--format %q: want csv, text or jsonl", format)}
			}
			s, err := a.shelf()
			if err != nil {
				return err
			}
			if listTables {
				tables, err := s.Tables(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TABLE\tROWS")
				for _, t := range tables {
					fmt.Fprintf(tw, "%s\t%d\n", t, t.Rows)
				}
				return tw.Flush()
			}
			out := bufio.NewWriterSize(a.stdout, 1<<20)
			res, err := s.Export(cmd.Context(), args[0], table, format, out)
			if ferr := out.Flush(); err == nil && ferr != nil {
				err = fmt.Errorf("write stdout: %w", ferr)
			}
			if errors.Is(err, pgsnap.ErrNoTable) || errors.Is(err, pgsnap.ErrBadName) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			a.log.Info("export finished", "snapshot", res.Snapshot, "table", res.Table, "rows", res.Rows, "format", res.Format, "verified", res.Verified)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&table, "table", "", "the table to export: schema.table")
	f.StringVar(&format, "format", pgsnap.ExportCSV, "csv, text or jsonl")
	f.BoolVar(&listTables, "list-tables", false, "list the snapshot's tables with their row counts")
	return reads(cmd, "SNAPSHOT_DIR", "SNAPSHOT_S3_URL", "SNAPSHOT_AGE_IDENTITY_FILE", "SNAPSHOT_TARGET", "SNAPSHOT_CONFIG")
}
