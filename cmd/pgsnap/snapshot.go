package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

func (a *app) snapshotCmd() *cobra.Command {
	var slot bool
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Take one snapshot now, then apply retention",
		Long: `Take one snapshot now (one attempt, no retries), commit it, then keep the newest
SNAPSHOT_RETENTION snapshots. The snapshot's name is printed as the last line of standard output;
logs go to standard error. Exit code 0 means the snapshot is committed.

With --slot (for a Kubernetes CronJob or a systemd timer) it takes the latest due slot of
SNAPSHOT_TIME instead, named after the slot, with the same lock and already-taken check as the
daemon: an overlapping or retried job never makes a second snapshot for a slot, and exits 0
saying the slot is already taken.`,
		Example: `  DATABASE_URL=postgres://backup@db/app SNAPSHOT_DIR=/snapshots pgsnap snapshot
  pgsnap snapshot --slot          # a CronJob or timer: the due slot, once, whoever runs it`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.scheduler()
			if err != nil {
				return err
			}
			take := s.SnapshotNow
			if slot {
				take = s.SnapshotSlot
			}
			snap, err := take(cmd.Context())
			if slot && errors.Is(err, pgsnap.ErrSlotTaken) {
				a.log.Info("slot already taken; nothing to do", "err", err)
				return nil
			}
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
	cmd.Flags().BoolVar(&slot, "slot", false, "take the latest due slot of the schedule, once (for cron jobs and timers)")
	return cmd
}
