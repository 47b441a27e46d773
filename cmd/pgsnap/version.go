package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

func (a *app) versionCmd() *cobra.Command {
	return reads(&cobra.Command{
		Use:   "version",
		Short: "Print pgsnap's version and the pg_dump it would use",
		Long: `Print pgsnap's version, and the pg_dump it would use: with DATABASE_URL set, the one
matching that server's version (SNAPSHOT_PG_BIN_DIR, /usr/lib/postgresql/<major>/bin, then PATH).`,
		Example: `  pgsnap version
  DATABASE_URL=postgres://backup@db/app pgsnap version`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.stdout, "pgsnap %s (%s %s/%s)\n", pgsnap.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			cfg, err := pgsnap.LoadConfig(a.lookup)
			if err != nil {
				return err
			}
			sh, err := pgsnap.Open(cfg, pgsnap.WithLogger(a.log))
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			tool, err := sh.PGDump(ctx)
			if err != nil {
				return err
			}
			note := "DATABASE_URL not set: the pg_dump is chosen per server at each snapshot"
			if tool.Server != "" {
				note = "server " + tool.Server
			}
			fmt.Fprintf(a.stdout, "pg_dump %s at %s (%s)\n", tool.Version, tool.Path, note)
			return nil
		},
	}, "DATABASE_URL", "SNAPSHOT_PG_BIN_DIR")
}
