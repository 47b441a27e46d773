package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

// restoreTables is restore --table/--schema: chosen tables into an existing database, by
// default the source database.
func restoreTables(a *app, cmd *cobra.Command, name string, labels []string, targetURL string, opts pgsnap.RestoreOptions, tables pgsnap.RestoreTablesOptions) error {
	if len(tables.Tables) == 0 && len(tables.Schemas) == 0 {
		return usageError{errors.New("--as renames a table or schema restored with --table or --schema")}
	}
	for _, flag := range []string{"clean", "force", "force-disconnect", "keep-old", "with-globals", "stream"} {
		if cmd.Flags().Changed(flag) {
			return usageError{fmt.Errorf("--%s is for a whole database's restore, not with --table or --schema", flag)}
		}
	}
	// --target-url, else SNAPSHOT_RESTORE_URL, else the source database (DATABASE_URL).
	if targetURL == "" {
		targetURL, _ = a.lookupEnv("SNAPSHOT_RESTORE_URL")
	} else if pgsnap.ConnString(targetURL).HasPassword() {
		a.log.Warn("a password on the command line is visible to other users of this machine: prefer SNAPSHOT_RESTORE_URL")
	}
	if targetURL != "" {
		if err := pgsnap.ConnString(targetURL).Check(); err != nil {
			return usageError{fmt.Errorf("--target-url %q: %w", pgsnap.ConnString(targetURL).String(), err)}
		}
	}
	tables.Target, tables.NoOwner, tables.Jobs = pgsnap.ConnString(targetURL), opts.NoOwner, opts.Jobs
	if err := tables.Check(); err != nil {
		return usageError{err}
	}
	s, err := a.shelf()
	if err != nil {
		return err
	}
	if name, err = byLabels(cmd, s, name, labels); err != nil {
		return err
	}
	res, err := s.RestoreTables(cmd.Context(), name, tables)
	if errors.Is(err, pgsnap.ErrNoTable) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	for _, t := range res.Tables {
		as := ""
		if t.To != t.From {
			as = " as " + t.To
		}
		if t.NoData {
			fmt.Fprintf(a.stdout, "restored %s%s: partitioned, its rows are in its partitions\n", t.From, as)
			continue
		}
		fmt.Fprintf(a.stdout, "restored %s%s: %d rows\n", t.From, as, t.Rows)
	}
	for _, fk := range res.LeftOut {
		fmt.Fprintf(a.stdout, "left out %s\n", fk)
	}
	a.log.Info("table restore finished", "snapshot", res.Snapshot.Name, "database", res.Database, "tables", len(res.Tables), "foreign_keys_left_out", len(res.LeftOut))
	return nil
}
