package pgsnap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/pgsnap/pgsnap/schedule"
	"github.com/pgsnap/pgsnap/store"
	"github.com/pgsnap/pgsnap/store/localstore"
)

// ErrSlotTaken is returned when the snapshot for a slot is already committed.
var ErrSlotTaken = errors.New("slot already taken")

// maxSleep bounds one wait so the wall clock is re-read at least this often: Go timers follow
// the monotonic clock, so a wall-clock jump is only noticed when the clock is read again.
const maxSleep = time.Minute

// Scheduler takes snapshots of one database on a schedule and on demand.
type Scheduler struct {
	cfg      Config
	target   string
	sched    schedule.Schedule
	store    store.Store
	local    bool // store is the default local directory (errors then name SNAPSHOT_DIR)
	log      *slog.Logger
	now      func() time.Time
	backoff  func(n int) time.Duration
	labels   map[string]string
	progress Progress
	stats    stats

	// busy serialises snapshots, retention and restores of this scheduler's target.
	busy chan struct{}
	// attempt takes one snapshot; tests of the timing logic replace it (see scheduler_test.go).
	attempt func(ctx context.Context, slot *time.Time) (Snapshot, error)
	// drillFn drills one snapshot; tests of the drill schedule replace it.
	drillFn func(ctx context.Context, snap Snapshot) (Drill, error)
}

// New checks cfg and builds a Scheduler. It touches neither the database nor the directory.
func New(cfg Config, opts ...Option) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Scheduler{
		cfg:      cfg,
		sched:    cfg.Schedule,
		log:      discardLogger(),
		now:      time.Now,
		backoff:  DefaultBackoff,
		busy:     make(chan struct{}, 1),
		progress: noProgress{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.store == nil {
		dir, err := filepath.Abs(cfg.Dir)
		if err != nil {
			return nil, lookupSetting("SNAPSHOT_DIR").error(cfg.Dir, err)
		}
		s.store = localstore.New(dir)
		s.local = true
	}
	// A target is needed to name snapshots; without DATABASE_URL and SNAPSHOT_TARGET only
	// store-wide commands (list, restore by name) work.
	if t, err := cfg.target(); err == nil {
		s.target = t
	}
	if s.target != "" {
		s.log = s.log.With("target", s.target)
	}
	s.attempt = s.takeSnapshot
	s.drillFn = s.DrillSnapshot
	return s, nil
}

// Run takes a snapshot at every slot of the schedule until ctx is cancelled, then returns nil
// once everything it started has ended. It returns nil at once when the configuration is not
// enabled, and an error only when it cannot start (for example an unwritable SNAPSHOT_DIR).
// A failed attempt is logged and retried after 5s, 10s, 20s, 30s, then every 60s, until it
// succeeds or the next slot is due.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.cfg.Enabled {
		s.log.Info("snapshots disabled", "setting", "SNAPSHOT_ENABLED")
		return nil
	}
	if err := s.Check(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.sweep(ctx)
	s.log.Info("scheduler started", "schedule", s.sched.String(), "store", s.store.String(), "retention", s.cfg.Retention,
		"verify", s.cfg.Verify, "drill_schedule", s.cfg.DrillSchedule)
	var wg sync.WaitGroup
	defer wg.Wait() // Run returns only after every goroutine it started has ended
	if period := drillPeriod(s.cfg.DrillSchedule); period > 0 {
		wg.Go(func() { s.drillLoop(ctx, period) })
	}
	var last time.Time
	for {
		slot := s.sched.Next(s.now())
		if !last.IsZero() && !slot.After(last) {
			// The wall clock went back: never take a slot twice.
			slot = s.sched.Next(last)
		}
		s.log.Info("next snapshot", "slot", slot)
		if err := s.sleepUntil(ctx, slot); err != nil {
			s.log.Info("scheduler stopped")
			return nil
		}
		s.takeSlot(ctx, slot)
		last = slot
		if ctx.Err() != nil {
			s.log.Info("scheduler stopped")
			return nil
		}
	}
}

// takeSlot makes attempts for one slot until one succeeds, the next slot is due, or ctx ends.
// It is the one place that logs a failed attempt.
func (s *Scheduler) takeSlot(ctx context.Context, slot time.Time) {
	next := s.sched.Next(slot)
	log := s.log.With("slot", slot)
	for n := 1; ; n++ {
		snap, err := s.attempt(ctx, &slot)
		if !errors.Is(err, ErrSlotTaken) && !errors.Is(err, ErrLocked) && ctx.Err() == nil {
			s.stats.attempt(err, s.now())
		}
		switch {
		case err == nil:
			log.Info("snapshot committed", "snapshot", snap.Name, "size", snap.Size, "duration", snap.Duration().Round(time.Millisecond), "attempt", n)
			s.retain(ctx)
			if s.cfg.DrillSchedule == DrillAfterEach {
				s.drillAndLog(ctx, snap)
			}
			return
		case errors.Is(err, ErrSlotTaken):
			log.Info("slot already stored, skipped")
			return
		case errors.Is(err, ErrLocked):
			// Another replica is taking it: wait, then look again; its snapshot ends the
			// slot here (ErrSlotTaken), its failure frees the lock for this one.
			delay := s.backoff(1)
			if !s.now().Add(delay).Before(next) {
				log.Warn("slot still being taken by another pgsnap when the next is due; left to it")
				return
			}
			log.Info("slot being taken by another pgsnap, waiting", "retry_in", delay)
			if s.sleep(ctx, delay) != nil {
				return
			}
			n--
			continue
		case ctx.Err() != nil:
			log.Info("snapshot cancelled", "attempt", n)
			return
		}
		delay := s.backoff(n)
		if !s.now().Add(delay).Before(next) {
			log.Error("snapshot failed, slot missed", "attempt", n, "err", err)
			return
		}
		log.Error("snapshot failed", "attempt", n, "retry_in", delay, "err", err)
		if s.sleep(ctx, delay) != nil {
			return
		}
	}
}

// retain applies retention after a committed snapshot and logs the outcome.
func (s *Scheduler) retain(ctx context.Context) {
	if _, err := s.Prune(ctx, false); err != nil && ctx.Err() == nil {
		s.log.Error("retention failed", "err", err)
	}
}

// drillPeriod is how often a periodic drill schedule drills; 0 for the others.
func drillPeriod(schedule string) time.Duration {
	switch schedule {
	case DrillDaily:
		return 24 * time.Hour
	case DrillWeekly:
		return 7 * 24 * time.Hour
	}
	return 0
}

// drillLoop drills the newest snapshot of the target whenever the latest stored drill is a
// period old, until ctx ends.
func (s *Scheduler) drillLoop(ctx context.Context, period time.Duration) {
	var ran time.Time
	for {
		next := s.latestDrill(ctx).Add(period)
		if !ran.IsZero() && next.Before(ran.Add(period)) {
			next = ran.Add(period) // the last result could not be stored: do not drill again at once
		}
		if s.sleepUntil(ctx, next) != nil {
			return
		}
		ran = s.now()
		snaps, err := s.List(ctx)
		if err != nil {
			s.log.Error("drill: list snapshots", "err", err)
			continue
		}
		for _, snap := range snaps {
			if snap.Target == s.target {
				s.drillAndLog(ctx, snap)
				break
			}
		}
	}
}

// latestDrill is the time of the newest drill stored for the target (zero when none).
func (s *Scheduler) latestDrill(ctx context.Context) time.Time {
	snaps, err := s.List(ctx)
	if err != nil {
		return time.Time{}
	}
	var latest time.Time
	for _, snap := range snaps {
		if snap.Target == s.target && snap.Drill != nil && snap.Drill.At.After(latest) {
			latest = snap.Drill.At
		}
	}
	return latest
}

// drillAndLog drills snap and logs the outcome: a failed drill is an ERROR.
func (s *Scheduler) drillAndLog(ctx context.Context, snap Snapshot) {
	d, err := s.drillFn(ctx, snap)
	switch {
	case err == nil:
		s.log.Info("drill passed", "snapshot", snap.Name, "tables", d.Tables, "rows", d.Rows, "duration", d.Duration.Round(time.Millisecond))
	case ctx.Err() != nil:
		s.log.Info("drill cancelled", "snapshot", snap.Name)
	default:
		s.log.Error("drill failed", "snapshot", snap.Name, "err", err)
	}
}

// sleepUntil waits until the wall clock reaches t, re-reading it at least every maxSleep.
func (s *Scheduler) sleepUntil(ctx context.Context, t time.Time) error {
	for {
		d := t.Sub(s.now())
		if d <= 0 {
			return nil
		}
		if err := s.sleep(ctx, min(d, maxSleep)); err != nil {
			return err
		}
	}
}

func (s *Scheduler) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// lock serialises operations on this scheduler's target; it gives up when ctx ends.
func (s *Scheduler) lock(ctx context.Context) (unlock func(), err error) {
	select {
	case s.busy <- struct{}{}:
		return func() { <-s.busy }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Check verifies at start-up that snapshots can be written: the store's location exists (or is
// created, private) and accepts a write.
func (s *Scheduler) Check(ctx context.Context) error {
	if err := s.store.Check(ctx); err != nil {
		return s.storeError(err)
	}
	return nil
}

func (s *Scheduler) storeError(err error) error {
	if s.local {
		return fmt.Errorf("SNAPSHOT_DIR: %w", err)
	}
	return fmt.Errorf("store %s: %w", s.store, err)
}

// sweep removes temporary objects left by crashed writers; it only logs.
func (s *Scheduler) sweep(ctx context.Context) {
	removed, err := s.store.Sweep(ctx)
	if err != nil {
		s.log.Warn("sweep temporary files", "store", s.store.String(), "err", err)
	}
	for _, name := range removed {
		s.log.Info("removed stale temporary file", "store", s.store.String(), "file", name)
	}
}
