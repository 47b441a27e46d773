package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) pruneCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Keep the newest SNAPSHOT_RETENTION snapshots of the target, delete the others",
		Long: `Apply retention to the target's snapshots (SNAPSHOT_TARGET, or the database named in
DATABASE_URL): keep the newest SNAPSHOT_RETENTION complete snapshots, ordered by their manifest's
slot or start time, and delete the others, manifest first. Each destination is pruned from
what it lists itself. Other targets' snapshots and files pgsnap
did not write are never touched. --dry-run only prints the decisions.`,
		Example: `  pgsnap prune --dry-run
  SNAPSHOT_KEEP_DAILY=7 SNAPSHOT_KEEP_WEEKLY=4 SNAPSHOT_KEEP_MONTHLY=12 pgsnap prune`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.shelf()
			if err != nil {
				return err
			}
			decisions, err := s.Prune(cmd.Context(), dryRun)
			for _, d := range decisions {
				verb := "keep  "
				if !d.Keep {
					verb = "delete"
					if dryRun {
						verb = "would delete"
					}
				}
				fmt.Fprintf(a.stdout, "%s %s in %s (%s)\n", verb, d.Name, d.Destination, d.Reason)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be deleted, delete nothing")
	return cmd
}
