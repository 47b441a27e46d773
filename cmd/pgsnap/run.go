package main

import (
	"github.com/spf13/cobra"
)

func (a *app) runCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the scheduler: a snapshot at every SNAPSHOT_TIME (UTC) until stopped",
		Long: `Run the scheduler until SIGINT or SIGTERM: at every slot it takes a snapshot, retries a
failed one after 5s, 10s, 20s, 30s, then every 60s until the next slot is due, and keeps the newest
SNAPSHOT_RETENTION snapshots.

Running the daemon is the opt-in, so SNAPSHOT_ENABLED defaults to true here; an explicit
SNAPSHOT_ENABLED=false logs that and exits 0. It fails at once when SNAPSHOT_DIR is not writable.
On SIGTERM it stops pg_dump, removes the temporary file and exits 0.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, cfg, err := a.scheduler(true)
			if err != nil {
				return err
			}
			if !cfg.Enabled {
				a.log.Info("snapshots disabled by SNAPSHOT_ENABLED=false; exiting")
				return nil
			}
			return s.Run(cmd.Context())
		},
	}
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{cobra.NoArgs(cmd, args)}
	}
	return nil
}
