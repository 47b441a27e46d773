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
// snapshot is named after its start time. While another pgsnap holds the target's lock (its
// dump, sync or prune) it waits, up to SNAPSHOT_TIMEOUT or until ctx ends, then returns an error
// wrapping ErrLocked. It returns the committed snapshot; a retention failure is logged, not
// returned, since the snapshot itself is safe.
func (s *Scheduler) SnapshotNow(ctx context.Context) (Snapshot, error) {
	done, err := s.beginOneShot(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	defer done(true)
	snap, err := s.attemptWaiting(ctx, nil)
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

// beginOneShot is what a snapshot outside Run does first: check the settings and the store,
// sweep what a crashed writer left, and start the run's notifications. The caller defers done.
func (s *Scheduler) beginOneShot(ctx context.Context) (done func(bool), err error) {
	if s.cfg.DatabaseURL == "" {
		return nil, settings.Lookup("DATABASE_URL").Problem("", errors.New("required to take a snapshot"))
	}
	if err := s.Check(ctx); err != nil {
		return nil, err
	}
	s.cat.Sweep(ctx)
	done = s.notify.run(ctx)
	s.notify.ping.Start()
	return done, nil
}

// SnapshotSlot takes the snapshot of the schedule's latest due slot (at or before now), once:
// for a Kubernetes CronJob or a systemd timer that runs `pgsnap snapshot --slot`. With the same
// lock and already-taken check as Run, an overlapping or retried job never makes a second
// snapshot for a slot: it returns an error wrapping ErrSlotTaken instead. While another pgsnap
// holds the lock it waits (up to SNAPSHOT_TIMEOUT), then checks again. One attempt otherwise
// (no retries).
func (s *Scheduler) SnapshotSlot(ctx context.Context) (Snapshot, error) {
	done, err := s.beginOneShot(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	defer done(true)
	slot := s.sched.Prev(s.o.now())
	snap, err := s.attemptWaiting(ctx, &slot)
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

// attemptWaiting is one attempt of a snapshot outside Run's loop. While another pgsnap (or this
// process's own sync, prune or sweep) holds the target's lock it waits, up to SNAPSHOT_TIMEOUT so
// a holder that hangs is not waited for forever, then tries again: with a slot, the holder's
// commit ends the wait as ErrSlotTaken.
func (s *Scheduler) attemptWaiting(ctx context.Context, slot *time.Time) (Snapshot, error) {
	giveUp := s.o.now().Add(s.cfg.Timeout)
	delay := 250 * time.Millisecond // a sync or prune holds it briefly, a dump for minutes
	log := s.log
	if slot != nil {
		log = log.With("slot", *slot)
	}
	for {
		snap, err := s.attempt(ctx, slot)
		if !errors.Is(err, ErrLocked) || !s.o.now().Before(giveUp) {
			return snap, err
		}
		delay = min(2*delay, max(s.o.backoff(1), time.Second))
		log.Info("target locked by another pgsnap, waiting", "retry_in", delay)
		if serr := s.sleep(ctx, delay); serr != nil {
			return Snapshot{}, fmt.Errorf("%w; stopped waiting: %w", err, serr)
		}
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
