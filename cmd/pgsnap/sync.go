package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

func (a *app) syncCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Copy snapshots a destination missed from one that has them",
		Long: `With several destinations (SNAPSHOT_DIR and SNAPSHOT_S3_URL), a snapshot stays committed in
the destinations that took it when another fails (a bucket down), and list shows it incomplete.
sync copies every such snapshot that retention keeps to the destinations lacking it, checking its
SHA-256 on the way and its manifest last; pg_dump does not run again. The daemon does this at
start-up and after every snapshot. Exit code 1 if a copy failed.`,
		Example: `  SNAPSHOT_DIR=/snapshots SNAPSHOT_S3_URL=s3://backups/app pgsnap sync
  pgsnap sync --json | jq -r '.[] | select(.error != null) | .snapshot'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.shelf()
			if err != nil {
				return err
			}
			copies, err := s.Sync(cmd.Context())
			if asJSON {
				if copies == nil {
					copies = []pgsnap.SyncCopy{}
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(copies); jerr != nil {
					return jerr
				}
				return err
			}
			for _, c := range copies {
				if c.Error != "" {
					fmt.Fprintf(a.stdout, "failed  %s to %s: %s\n", c.Snapshot, c.Destination, c.Error)
				} else {
					fmt.Fprintf(a.stdout, "copied  %s to %s\n", c.Snapshot, c.Destination)
				}
			}
			if len(copies) == 0 && err == nil {
				fmt.Fprintln(a.stdout, "every destination holds every snapshot retention keeps")
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return reads(a.withQuiet(cmd), "SNAPSHOT_DIR", "SNAPSHOT_S3_URL", "SNAPSHOT_RETENTION", "SNAPSHOT_KEEP_DAILY",
		"DATABASE_URL", "SNAPSHOT_TARGET", "SNAPSHOT_CONFIG")
}
