package pgsnap

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/settings"
	"github.com/pgsnap/pgsnap/internal/writer"
	"github.com/pgsnap/pgsnap/notify"
	"github.com/pgsnap/pgsnap/store"
)

// SnapshotNow takes one snapshot now (one attempt, no retries), then applies retention. The
// snapshot is named after its start time. It returns the committed snapshot; a retention
// failure is logged, not returned, since the snapshot itself is safe.
func (s *Scheduler) SnapshotNow(ctx context.Context) (Snapshot, error) {
	if s.cfg.DatabaseURL == "" {
		return Snapshot{}, settings.Lookup("DATABASE_URL").Problem("", errors.New("required to take a snapshot"))
	}
	if err := s.Check(ctx); err != nil {
		return Snapshot{}, err
	}
	s.cat.Sweep(ctx)
	defer s.notify.run(ctx)(true)
	s.notify.ping.Start()
	snap, err := s.attempt(ctx, nil)
	if ctx.Err() == nil {
		s.recordAttempt(snap, err, false)
	}
	if err != nil {
		return Snapshot{}, err
	}
	s.log.Info("snapshot committed", "snapshot", snap.Name, "size", snap.Size, "duration", snap.Duration().Round(time.Millisecond), "stored_in", snap.StoredIn, "missing", snap.Missing)
	s.retain(ctx, snap)
	return snap, nil
}

// SnapshotSlot takes the snapshot of the schedule's latest due slot (at or before now), once:
// for a Kubernetes CronJob or a systemd timer that runs `pgsnap snapshot --slot`. With the same
// lock and already-taken check as Run, an overlapping or retried job never makes a second
// snapshot for a slot: it returns an error wrapping ErrSlotTaken instead. While another pgsnap
// holds the lock it waits (up to SNAPSHOT_TIMEOUT), then checks again. One attempt otherwise
// (no retries).
func (s *Scheduler) SnapshotSlot(ctx context.Context) (Snapshot, error) {
	if s.cfg.DatabaseURL == "" {
		return Snapshot{}, settings.Lookup("DATABASE_URL").Problem("", errors.New("required to take a snapshot"))
	}
	if err := s.Check(ctx); err != nil {
		return Snapshot{}, err
	}
	s.cat.Sweep(ctx)
	defer s.notify.run(ctx)(true)
	s.notify.ping.Start()
	slot := s.sched.Prev(s.o.now())
	giveUp := s.o.now().Add(s.cfg.Timeout) // a holder that hangs is not waited for forever
	for {
		snap, err := s.attempt(ctx, &slot)
		if errors.Is(err, ErrLocked) && s.o.now().Before(giveUp) {
			delay := s.o.backoff(1)
			s.log.Info("slot being taken by another pgsnap, waiting", "slot", slot, "retry_in", delay)
			if err := s.sleep(ctx, delay); err != nil {
				return Snapshot{}, err
			}
			continue
		}
		if !errors.Is(err, ErrSlotTaken) && ctx.Err() == nil {
			s.recordAttempt(snap, err, false)
		}
		if err != nil {
			return Snapshot{}, err
		}
		s.log.Info("snapshot committed", "snapshot", snap.Name, "slot", slot, "size", snap.Size, "duration", snap.Duration().Round(time.Millisecond), "stored_in", snap.StoredIn, "missing", snap.Missing)
		s.retain(ctx, snap)
		return snap, nil
	}
}

// takeSnapshot is one attempt, all of it bounded by SNAPSHOT_TIMEOUT: take the target's writer
// lock (one writer among every process), check the slot is not stored, sweep what crashed
// writers of the target left, then let the writer dump and commit. On any error nothing new is
// listed and nothing of the attempt is left behind.
func (s *Scheduler) takeSnapshot(ctx context.Context, slot *time.Time) (Snapshot, error) {
	started := s.o.now().UTC()
	at := started
	if slot != nil {
		at = slot.UTC()
	}
	name := catalog.Name(s.target, at)
	if taken, err := s.cat.Stored(ctx, name); err != nil {
		return Snapshot{}, err
	} else if taken && slot != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", name, ErrSlotTaken)
	} else if taken {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w (one manual snapshot per second)", name, store.ErrExists)
	}
	info, err := s.cfg.DatabaseURL.Parse()
	if err != nil {
		return Snapshot{}, err
	}
	dctx, stop := writer.WithTimeout(ctx, s.cfg.Timeout, info)
	defer stop()

	// In a Fleet, at most SNAPSHOT_MAX_CONCURRENT dumps run at once. The slot is taken before the
	// lock and given back at once when another pgsnap holds it, so a daemon whose targets are
	// all taken elsewhere moves on to others: N daemons share the work.
	if s.o.dumpSlots != nil {
		select {
		case s.o.dumpSlots <- struct{}{}:
			defer func() { <-s.o.dumpSlots }()
		case <-dctx.Done():
			return Snapshot{}, writer.Stage(dctx, "wait for a dump slot", context.Cause(dctx))
		}
	}
	// One writer per target: replicas of a service (or several daemons) share the work through
	// the database's own advisory lock. The slot check is repeated under the lock, since the
	// holder may have just committed it.
	release, err := catalog.WriterLock(dctx, info, s.target)
	if err != nil {
		return Snapshot{}, writer.Stage(dctx, "lock", err)
	}
	defer release()
	if taken, _ := s.cat.Stored(dctx, name); taken && slot != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", name, ErrSlotTaken)
	}
	s.cat.SweepTarget(dctx) // the lock proves every earlier writer of the target dead
	var snap Snapshot
	if s.o.globals {
		snap, err = s.wr.Globals(dctx, info, name, started, slot)
	} else {
		snap, err = s.wr.Snapshot(dctx, info, name, started, slot)
	}
	return snap, writer.Explain(dctx, err)
}

func notifyEvent(target string, snap Snapshot, now time.Time) notify.Event {
	return notify.Event{Target: target, Snapshot: snap.Name, At: now.UTC(), Duration: snap.Duration(),
		Size: snap.Size, Destinations: snap.StoredIn, Missing: snap.Missing}
}
