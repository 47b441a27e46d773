package main

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

func (a *app) restoreCmd() *cobra.Command {
	var opts pgsnap.RestoreOptions
	var targetURL string
	var latest bool
	var labels []string
	var tables pgsnap.RestoreTablesOptions
	cmd := &cobra.Command{
		Use:   "restore NAME|--latest|--label K=V [--table SCHEMA.TABLE... [--as SCHEMA.NEWNAME] | --schema SCHEMA] --target-url URL",
		Short: "Restore a snapshot into a database",
		Long: `Restore the named snapshot (or the newest with "latest") into the database named by
--target-url or SNAPSHOT_RESTORE_URL, as a swap: the stored bytes are checked first; the snapshot
is restored into a scratch database with the source database's properties and every table's row
count proven; only then is an existing target renamed aside (dropped, or kept with --keep-old)
and the restored one put in its place. On any failure the target is as it was. A target with
user tables needs --clean; the snapshot's own source, --force too.

With --table (repeatable) or --schema, only those tables are restored, into an existing database
(default: the source, DATABASE_URL), with their indexes, constraints, owned sequences, comments
and grants, proven, then moved in one transaction; a name that exists is refused, --as renames,
and a foreign key to a table not restored is left out and named. Nothing else is touched.`,
		Example: `  SNAPSHOT_RESTORE_URL=postgres://admin@db/app_copy pgsnap restore --latest
  pgsnap restore app-20261124T030000Z --target-url postgres://admin@db/app --clean
  pgsnap restore --label version=1.4.2 --stream
  pgsnap restore app-20261124T030000Z --table app.accounts --as public.accounts_back
  pgsnap restore latest --schema billing --as billing_restored --target-url postgres://admin@db/app`,
		Args: func(cmd *cobra.Command, args []string) error {
			byLabel := latest || len(labels) > 0
			if byLabel && len(args) == 0 || !byLabel && len(args) == 1 {
				return nil
			}
			return usageError{errors.New("restore takes one snapshot name, or --latest, or --label key=value; see pgsnap list")}
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if latest || len(labels) > 0 {
				args = []string{"latest"}
			}
			if len(tables.Tables) > 0 || len(tables.Schemas) > 0 || tables.As != "" {
				return restoreTables(a, cmd, args[0], labels, targetURL, opts, tables)
			}
			setting := "--target-url"
			if targetURL == "" {
				targetURL, _ = a.lookupEnv("SNAPSHOT_RESTORE_URL")
				setting = "SNAPSHOT_RESTORE_URL"
			} else {
				warnFlagPassword(a.log, "target-url", targetURL, "SNAPSHOT_RESTORE_URL")
			}
			if targetURL == "" {
				return usageError{errors.New("restore needs --target-url or SNAPSHOT_RESTORE_URL (the database to restore into)")}
			}
			// Checked like every connection setting, before anything is read or connected:
			// an unparsable URL or an sslpassword (it would reach pg_restore's argv).
			if err := pgsnap.ConnString(targetURL).Check(); err != nil {
				return usageError{fmt.Errorf("%s=%q: %w", setting, pgsnap.ConnString(targetURL).String(), err)}
			}
			if opts.Jobs < 1 {
				return usageError{fmt.Errorf("--jobs %d: want a whole number ≥ 1", opts.Jobs)}
			}
			opts.Target = pgsnap.ConnString(targetURL)
			s, err := a.shelf()
			if err != nil {
				return err
			}
			name, err := byLabels(cmd, s, args[0], labels)
			if err != nil {
				return err
			}
			res, err := s.RestoreTo(cmd.Context(), name, opts)
			if err != nil {
				return err
			}
			a.log.Info("restore finished", "snapshot", res.Snapshot.Name, "database", res.Database, "tables", res.Tables, "rows", res.Rows, "replaced", res.Replaced)
			if res.KeptOld != "" {
				fmt.Fprintf(a.stderr, "pgsnap: the database it replaced is kept as %s\n", res.KeptOld)
			}
			fmt.Fprintln(a.stdout, res.Snapshot.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&targetURL, "target-url", "", "database to restore into (SNAPSHOT_RESTORE_URL)")
	f.BoolVar(&opts.Clean, "clean", false, "replace a target database that has user tables (only once the restore is proven)")
	f.BoolVar(&opts.Force, "force", false, "with --clean, also replace the snapshot's own source database")
	f.BoolVar(&opts.ForceDisconnect, "force-disconnect", false, "end the other sessions on the target when the restored database takes its place")
	f.BoolVar(&opts.KeepOld, "keep-old", false, "keep the replaced database, renamed aside (its name is printed), instead of dropping it")
	f.IntVar(&opts.Jobs, "jobs", runtime.NumCPU(), "parallel pg_restore jobs")
	f.BoolVar(&latest, "latest", false, "restore the newest snapshot of the target")
	f.StringArrayVar(&labels, "label", nil, "restore the newest snapshot of the target with this label (key=value; repeat for several)")
	f.BoolVar(&opts.WithGlobals, "with-globals", false, "first apply the server's roles and tablespaces from its globals snapshot (stops on the first SQL error)")
	f.BoolVar(&opts.Stream, "stream", false, "pipe the snapshot into pg_restore, no temporary file (one job; damage is found at the end)")
	f.BoolVar(&opts.NoOwner, "no-owner", false, "do not restore ownership and privileges (target lacks the source's roles)")
	f.StringArrayVar(&tables.Tables, "table", nil, "restore only this table (schema.table; repeat for several) into an existing database")
	f.StringArrayVar(&tables.Schemas, "schema", nil, "restore every table of this schema into an existing database that lacks the schema")
	f.StringVar(&tables.As, "as", "", "with one --table, restore it as schema.newname; with one --schema, as this schema")
	return reads(a.withQuiet(cmd), "SNAPSHOT_RESTORE_URL", "SNAPSHOT_DIR", "SNAPSHOT_S3_URL", "SNAPSHOT_AGE_IDENTITY_FILE",
		"SNAPSHOT_TMPDIR", "SNAPSHOT_PG_BIN_DIR", "SNAPSHOT_TARGET", "SNAPSHOT_CONFIG")
}

// byLabels is the snapshot restore reads: with --label, the newest of the target carrying every
// label given; otherwise name as given.
func byLabels(cmd *cobra.Command, s *pgsnap.Shelf, name string, labels []string) (string, error) {
	if len(labels) == 0 {
		return name, nil
	}
	want, err := pgsnap.ParseLabels(strings.Join(labels, ","))
	if err != nil {
		return "", usageError{fmt.Errorf("--label: %w", err)}
	}
	snap, err := s.FindLabeled(cmd.Context(), want)
	if err != nil {
		return "", err
	}
	return snap.Name, nil
}
