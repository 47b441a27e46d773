package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) pruneCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Apply retention to the target's snapshots: keep what a rule keeps, delete the others",
		Long: `Apply retention to the target's snapshots (SNAPSHOT_TARGET, or the database named in
DATABASE_URL) in each destination, from what that destination lists. A snapshot is kept if any
rule keeps it: the newest SNAPSHOT_RETENTION; the newest of each of the newest SNAPSHOT_KEEP_DAILY
days, SNAPSHOT_KEEP_WEEKLY ISO weeks, SNAPSHOT_KEEP_MONTHLY months and SNAPSHOT_KEEP_YEARLY years
(in SNAPSHOT_TZ); a pin. SNAPSHOT_MAX_AGE then drops older ones, never below SNAPSHOT_MIN_KEEP and
never a pinned one. Snapshots are ordered by their manifest's slot or start time.

Only good snapshots count: a damaged one (its data missing or of the wrong size, or found damaged
by verify or a drill) is not counted, so the newest good snapshot is always kept; a damaged one is
kept for inspection while newer than the oldest good one kept. The others are deleted, manifest
first. Other targets' snapshots and files pgsnap did not write are never touched. --dry-run only
prints the decisions, each with its reason.`,
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
	return reads(cmd, "SNAPSHOT_RETENTION", "SNAPSHOT_KEEP_DAILY", "SNAPSHOT_KEEP_WEEKLY", "SNAPSHOT_KEEP_MONTHLY",
		"SNAPSHOT_KEEP_YEARLY", "SNAPSHOT_MAX_AGE", "SNAPSHOT_MIN_KEEP", "SNAPSHOT_TZ", "SNAPSHOT_DIR", "SNAPSHOT_S3_URL",
		"DATABASE_URL", "SNAPSHOT_TARGET", "SNAPSHOT_CONFIG")
}
