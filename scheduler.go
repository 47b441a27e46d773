package pgsnap

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsnap/pgsnap/schedule"
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
	dests    []*destination // where snapshots are kept; at least one
	log      *slog.Logger
	now      func() time.Time
	backoff  func(n int) time.Duration
	labels   map[string]string
	progress Progress
	stats    stats
	ops      ops
	// registerer receives the metrics (WithMetrics); nil: none
	registerer prometheus.Registerer
	// dumpSlots, shared by a Fleet's schedulers, bounds the dumps running at once; nil: no bound
	dumpSlots chan struct{}
	// globals makes this scheduler take globals snapshots (pg_dumpall --globals-only) of its
	// server instead of database snapshots: a Fleet's <server>.globals target.
	globals bool

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
	if len(cfg.Labels) > 0 {
		labels := maps.Clone(cfg.Labels)
		maps.Copy(labels, s.labels) // WithLabels wins
		s.labels = labels
	}
	if len(s.dests) == 0 {
		dests, err := cfg.destinations(s.log)
		if err != nil {
			return nil, err
		}
		s.dests = dests
	}
	// A target is needed to name snapshots; without DATABASE_URL and SNAPSHOT_TARGET only
	// store-wide commands (list, restore by name) work.
	if t, err := cfg.target(); err == nil {
		s.target = t
	}
	if s.target != "" {
		s.log = s.log.With("target", s.target)
	}
	if err := s.newNotifiers(); err != nil {
		return nil, err
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
	s.ops.running.Store(true) // alive from here: a long start-up sync must not fail /healthz
	defer s.ops.running.Store(false)
	s.sweep(ctx)
	if _, err := s.Sync(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("some destinations are still incomplete; the next snapshot retries", "err", err)
	}
	s.log.Info("scheduler started", "schedule", s.sched.String(), "destinations", s.destinationNames(), "retention", s.cfg.Retention,
		"verify", s.cfg.Verify, "drill_schedule", s.cfg.DrillSchedule)
	var wg sync.WaitGroup
	defer wg.Wait() // Run returns only after every goroutine it started has ended
	defer s.runNotifiers(ctx)(false)
	if period := drillPeriod(s.cfg.DrillSchedule); period > 0 && !s.globals {
		wg.Go(func() { s.drillLoop(ctx, period) })
	}
	var last time.Time
	if s.cfg.CatchUp == CatchUpOnce {
		// A slot missed while no pgsnap ran (or the first start just after one) is taken now,
		// once; the already-taken check makes this a no-op after a mere restart.
		if prev := s.sched.Prev(s.now()); !prev.IsZero() && s.now().Sub(prev) <= s.cfg.CatchUpWindow {
			s.log.Info("catching up the newest slot", "slot", prev, "window", s.cfg.CatchUpWindow)
			s.takeSlot(ctx, prev)
			last = prev
		}
	}
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
		s.countSkipped(slot)
	}
}

// takeSlot makes attempts for one slot until one succeeds, the next slot is due, or ctx ends.
// It is the one place that logs a failed attempt.
func (s *Scheduler) takeSlot(ctx context.Context, slot time.Time) {
	next := s.sched.Next(slot)
	log := s.log.With("slot", slot)
	for n := 1; ; n++ {
		s.notifyStart()
		snap, err := s.attempt(ctx, &slot)
		if !errors.Is(err, ErrSlotTaken) && !errors.Is(err, ErrLocked) && ctx.Err() == nil {
			s.recordAttempt(snap, err, n > 1)
		}
		switch {
		case err == nil:
			log.Info("snapshot committed", "snapshot", snap.Name, "size", snap.Size, "duration", snap.Duration().Round(time.Millisecond), "attempt", n, "stored_in", snap.StoredIn, "missing", snap.Missing)
			s.retain(ctx, snap)
			if s.cfg.DrillSchedule == DrillAfterEach && !s.globals {
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

// countSkipped logs and counts the slots that passed while the attempts for slot ran (a dump
// longer than the interval): never two dumps of a target at once, so they are skipped.
func (s *Scheduler) countSkipped(slot time.Time) {
	now := s.now()
	n := 0
	for next := s.sched.Next(slot); !next.IsZero() && !next.After(now) && n < 10000; next = s.sched.Next(next) {
		n++
	}
	if n > 0 {
		s.stats.skipped(n)
		s.log.Warn("slots skipped: the snapshot of the previous slot was still running", "slot", slot, "skipped", n)
	}
}

// retain applies retention after a committed snapshot and logs the outcome.
func (s *Scheduler) retain(ctx context.Context, snap Snapshot) {
	if _, err := s.Prune(ctx, false); err != nil && ctx.Err() == nil {
		s.log.Error("retention failed", "err", err)
	}
	if len(snap.Missing) > 0 {
		return // a destination failed just now; the next snapshot's sync tries it again
	}
	// A destination that missed a snapshot (it was down) gets it now from one that has it.
	if _, err := s.Sync(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("some destinations are still incomplete; the next snapshot retries", "err", err)
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

// Target is the name of the database this scheduler protects ("" when none is configured).
func (s *Scheduler) Target() string { return s.target }

// Config returns the configuration the scheduler runs with.
func (s *Scheduler) Config() Config { return s.cfg }
