package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

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
logs go to standard error. Exit code 0 means the snapshot is committed. While another pgsnap
holds the target's lock (dumping, syncing or pruning it) it waits, up to SNAPSHOT_TIMEOUT.

With --slot (for a Kubernetes CronJob or a systemd timer) it takes the latest due slot of
SNAPSHOT_TIME instead, named after the slot, with the same lock and already-taken check as the
daemon: an overlapping or retried job never makes a second snapshot for a slot, and exits 0
saying the slot is already taken, with the name of the slot's snapshot as the last line of
standard output, as if it had taken it.`,
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
			before := time.Now()
			snap, err := take(cmd.Context())
			if slot && errors.Is(err, pgsnap.ErrSlotTaken) {
				a.log.Info("slot already taken; nothing to do", "err", err)
				taken, ferr := slotSnapshot(cmd.Context(), s, before)
				if ferr != nil {
					return fmt.Errorf("slot already taken, but its snapshot is not listed: %w", ferr)
				}
				fmt.Fprintln(a.stdout, taken.Name)
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
	return reads(a.withQuiet(cmd), "DATABASE_URL", "SNAPSHOT_DIR", "SNAPSHOT_S3_URL", "SNAPSHOT_TIME", "SNAPSHOT_SCHEDULE",
		"SNAPSHOT_RETENTION", "SNAPSHOT_AGE_RECIPIENTS", "SNAPSHOT_COMPRESSION", "SNAPSHOT_TIMEOUT", "SNAPSHOT_TARGET", "SNAPSHOT_CONFIG")
}

// slotSnapshot finds the committed snapshot of the slot SnapshotSlot found taken: the
// schedule's latest due slot when it was called (or, past a slot boundary since, the next).
func slotSnapshot(ctx context.Context, s *pgsnap.Scheduler, called time.Time) (pgsnap.Snapshot, error) {
	sched := s.Config().Schedule
	slots := []time.Time{sched.Prev(called), sched.Prev(time.Now())}
	snaps, err := s.List(ctx)
	if err != nil {
		return pgsnap.Snapshot{}, err
	}
	for _, sn := range snaps {
		if sn.Target == s.Target() && sn.Slot != nil && slices.ContainsFunc(slots, sn.Slot.Equal) {
			return sn, nil
		}
	}
	return pgsnap.Snapshot{}, fmt.Errorf("no snapshot of %s for the slot %s", s.Target(), slots[0].UTC().Format(time.RFC3339))
}
