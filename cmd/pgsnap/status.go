package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap/httpapi"
)

func (a *app) statusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether backups are fresh and restorable: what the status page shows",
		Long: `Print the target's freshness (ok, late, failing or none), its schedule and next slot, the
newest snapshots with their size, duration, drill result and missing copies, and each destination,
as the daemon's status page shows them; read from the store, so it works without a daemon.
The verdict uses the schedule's interval plus SNAPSHOT_STALE_AFTER. Exit code 0 when fresh,
1 otherwise, so it fits a cron job or a monitoring check. --json prints what /status.json serves.`,
		Example: `  pgsnap status
  pgsnap status --json | jq '.targets[0].state'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.shelf()
			if err != nil {
				return err
			}
			st, err := s.Status(cmd.Context())
			if err != nil {
				return err
			}
			report := httpapi.Summarize(st)
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(report); err != nil {
					return err
				}
			} else if err := httpapi.WriteText(a.stdout, st); err != nil {
				return err
			}
			if !report.Ready {
				return notFresh
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
