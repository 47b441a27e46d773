package pgsnap

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsnap/pgsnap/httpapi"
	"github.com/pgsnap/pgsnap/internal/writer"
	"github.com/pgsnap/pgsnap/schedule"
)

// maxSleep bounds one wait so the wall clock is re-read at least this often: Go timers follow
// the monotonic clock, so a wall-clock jump is only noticed when the clock is read again.
const maxSleep = time.Minute

// cleanupTimeout bounds cleanup work done after the caller's context has ended.
const cleanupTimeout = 10 * time.Second

// Scheduler decides when snapshots of one database are taken: at every slot of its schedule
// (catching up one missed while down), retrying failures with backoff, one writer per target
// among every process that shares it, and drills on their own schedule. The jobs themselves
// are done by the Shelf it embeds (list, verify, restore, prune, sync...) and by its writer.
type Scheduler struct {
	*Shelf
	sched   schedule.Schedule
	wr      *writer.Writer
	notify  *notifier
	stats   stats
	listed  listingCache
	running atomic.Bool // Run's loop is alive

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
	o := buildOptions(opts)
	sh, err := open(cfg, o)
	if err != nil {
		return nil, err
	}
	s := &Scheduler{Shelf: sh, sched: cfg.Schedule}
	if s.notify, err = newNotifier(cfg, sh.o); err != nil {
		return nil, err
	}
	s.wr = writer.New(cfg, sh.cat, sh.ver.Gate, writer.Options{
		Log: sh.log, Now: o.now, Progress: o.progress, Labels: sh.o.labels, Version: Version(),
	})
	sh.ver.OnDrill = func(d Drill, err error) { s.stats.drill(d, err); s.listed.invalidate() }
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
	s.running.Store(true) // alive from here: a long start-up sync must not fail /healthz
	defer s.running.Store(false)
	s.cat.Sweep(ctx)
	if _, err := s.Sync(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("some destinations are still incomplete; the next snapshot retries", "err", err)
	}
	s.log.Info("scheduler started", "schedule", s.sched.String(), "destinations", s.cat.Names(), "retention", s.cfg.Retention,
		"verify", s.cfg.Verify, "drill_schedule", s.cfg.DrillSchedule)
	var wg sync.WaitGroup
	defer wg.Wait() // Run returns only after every goroutine it started has ended
	defer s.notify.run(ctx)(false)
	if period := drillPeriod(s.cfg.DrillSchedule); period > 0 && !s.o.globals {
		wg.Go(func() { s.drillLoop(ctx, period) })
	}
	var last time.Time
	if s.cfg.CatchUp == CatchUpOnce {
		// A slot missed while no pgsnap ran (or the first start just after one) is taken now,
		// once; the already-taken check makes this a no-op after a mere restart.
		if prev := s.sched.Prev(s.o.now()); !prev.IsZero() && s.o.now().Sub(prev) <= s.cfg.CatchUpWindow {
			s.log.Info("catching up the newest slot", "slot", prev, "window", s.cfg.CatchUpWindow)
			s.takeSlot(ctx, prev)
			last = prev
		}
	}
	for {
		slot := s.sched.Next(s.o.now())
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
		s.notify.ping.Start()
		snap, err := s.attempt(ctx, &slot)
		if !errors.Is(err, ErrSlotTaken) && !errors.Is(err, ErrLocked) && ctx.Err() == nil {
			s.recordAttempt(snap, err, n > 1)
		}
		switch {
		case err == nil:
			log.Info("snapshot committed", "snapshot", snap.Name, "size", snap.Size, "duration", snap.Duration().Round(time.Millisecond), "attempt", n, "stored_in", snap.StoredIn, "missing", snap.Missing)
			s.retain(ctx, snap)
			if s.cfg.DrillSchedule == DrillAfterEach && !s.o.globals {
				s.drillAndLog(ctx, snap)
			}
			return
		case errors.Is(err, ErrSlotTaken):
			log.Info("slot already stored, skipped")
			return
		case errors.Is(err, ErrLocked):
			// Another replica is taking it: wait, then look again; its snapshot ends the
			// slot here (ErrSlotTaken), its failure frees the lock for this one.
			delay := s.o.backoff(1)
			if !s.o.now().Add(delay).Before(next) {
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
		delay := s.o.backoff(n)
		if !s.o.now().Add(delay).Before(next) {
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
	now := s.o.now()
	n := 0
	for next := s.sched.Next(slot); !next.IsZero() && !next.After(now) && n < 10000; next = s.sched.Next(next) {
		n++
	}
	if n > 0 {
		s.stats.skipped(n)
		s.log.Warn("slots skipped: the snapshot of the previous slot was still running", "slot", slot, "skipped", n)
	}
}

// retain applies retention after a committed snapshot and logs the outcome, then copies to a
// destination that missed one.
func (s *Scheduler) retain(ctx context.Context, snap Snapshot) {
	defer s.listed.invalidate()
	// A destination that failed just now (it is down) is left alone until the next snapshot's
	// sync: waiting for it again here would only hold the slot up.
	cat := s.cat.Only(snap.StoredIn)
	s.canary(ctx, cat, snap) // before retention: the snapshot from before a loss must survive it
	if _, err := s.prune(ctx, cat, false); err != nil && ctx.Err() == nil {
		s.log.Error("retention failed", "err", err)
	}
	if len(snap.Missing) > 0 {
		return
	}
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
		snaps, _ := s.cat.ListTarget(ctx)
		next := latestDrill(snaps).Add(period)
		if !ran.IsZero() && next.Before(ran.Add(period)) {
			next = ran.Add(period) // the last result could not be stored: do not drill again at once
		}
		if s.sleepUntil(ctx, next) != nil {
			return
		}
		ran = s.o.now()
		snaps, err := s.cat.ListTarget(ctx)
		if err != nil {
			s.log.Error("drill: list snapshots", "err", err)
			continue
		}
		if len(snaps) > 0 {
			s.drillAndLog(ctx, snaps[0])
		}
	}
}

// latestDrill is the time of the newest drill among snaps (zero when none).
func latestDrill(snaps []Snapshot) time.Time {
	var latest time.Time
	for _, snap := range snaps {
		if snap.Drill != nil && snap.Drill.At.After(latest) {
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
		d := t.Sub(s.o.now())
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

// Stats returns the counts so far. Safe to call from any goroutine.
func (s *Scheduler) Stats() Stats { return s.stats.snapshot() }

// recordAttempt counts one attempt's outcome and tells the notifiers.
func (s *Scheduler) recordAttempt(snap Snapshot, err error, retry bool) {
	s.stats.attempt(snap, err, s.o.now(), retry)
	for _, name := range snap.Missing {
		s.stats.destinationFailed(name)
	}
	s.listed.invalidate()
	s.notify.outcome(notifyEvent(s.target, snap, s.o.now()), err)
}

// Status describes this scheduler for the status page, /readyz and /metrics: the newest
// snapshots, each destination, the counts since start, freshness inputs.
func (s *Scheduler) Status(ctx context.Context) (httpapi.Status, error) {
	s.listed.mu.Lock()
	defer s.listed.mu.Unlock()
	var err error
	if s.listed.listed.IsZero() || s.o.now().Sub(s.listed.listed) >= catalogTTL {
		var snaps []Snapshot
		if snaps, err = s.cat.ListTarget(ctx); err == nil {
			s.listed.snaps, s.listed.listed = snaps, s.o.now()
		}
	}
	if ctx.Err() != nil {
		err = nil
	}
	return s.status(s.Stats(), s.running.Load(), s.listed.snaps, err), ctx.Err()
}

// Handler serves /healthz (the scheduler loop is alive), /readyz (a snapshot newer than the
// schedule's interval plus SNAPSHOT_STALE_AFTER exists), /metrics (with WithMetrics and a
// registry), the status page at / and /status.json. SNAPSHOT_HTTP_USER and
// SNAPSHOT_HTTP_PASSWORD, or SNAPSHOT_HTTP_TOKEN, protect all but /healthz. Mount it in the host
// server; call it once.
func (s *Scheduler) Handler() (http.Handler, error) {
	return newHandler(s.Status, s.o.registerer, s.cfg, s.log, s.o.now)
}

func newHandler(status func(context.Context) (httpapi.Status, error), reg prometheus.Registerer, cfg Config, log *slog.Logger, now func() time.Time) (http.Handler, error) {
	o := httpapi.Options{
		Status:     status,
		Registerer: reg,
		Auth:       httpapi.Auth{User: cfg.HTTPUser, Password: cfg.HTTPPassword, Token: cfg.HTTPToken},
		Logger:     log,
		Clock:      now,
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		o.Gatherer = g
	}
	return httpapi.New(o)
}
