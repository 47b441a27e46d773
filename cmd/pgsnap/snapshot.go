package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) snapshotCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "snapshot",
		Short: "Take one snapshot now, then apply retention",
		Long: `Take one snapshot now (one attempt, no retries), commit it, then keep the newest
SNAPSHOT_RETENTION snapshots. The snapshot's name is printed as the last line of standard output;
logs go to standard error. Exit code 0 means the snapshot is committed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := a.scheduler(false)
			if err != nil {
				return err
			}
			snap, err := s.SnapshotNow(cmd.Context())
			if err != nil {
				if cmd.Context().Err() != nil {
					return errors.New("snapshot cancelled: nothing was stored")
				}
				return err
			}
			fmt.Fprintln(a.stdout, snap.Name)
			return nil
		},
	}
}
