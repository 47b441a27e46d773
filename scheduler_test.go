package pgsnap

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/schedule"
)

// These tests drive the scheduler's timing in synctest bubbles (virtual time: days pass in
// microseconds). A day of real time cannot be spent in a test, so the dump step is replaced by
// a recording stub here; the end-to-end schedule test on a real PostgreSQL is in
// integration_test.go.

type recorder struct {
	mu    sync.Mutex
	calls []time.Time       // virtual time of each attempt
	slots []time.Time       // slot of each attempt
	fail  func(n int) error // result of the n-th attempt (1-based)
}

func (r *recorder) attempt(now func() time.Time) func(context.Context, *time.Time) (Snapshot, error) {
	return func(ctx context.Context, slot *time.Time) (Snapshot, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, now())
		r.slots = append(r.slots, *slot)
		if r.fail != nil {
			if err := r.fail(len(r.calls)); err != nil {
				return Snapshot{}, err
			}
		}
		return Snapshot{Name: "x", StartedAt: now(), FinishedAt: now()}, nil
	}
}

func (r *recorder) snapshot() (calls, slots []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.calls...), append([]time.Time(nil), r.slots...)
}

func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.DatabaseURL = "postgres://app:secret@127.0.0.1:1/app"
	cfg.Dir = t.TempDir()
	cfg.CatchUp = CatchUpSkip // catch-up has its own tests
	return cfg
}

// startScheduler runs s.Run in the bubble and returns a stop func that cancels it and returns
// Run's result.
func startScheduler(t *testing.T, s *Scheduler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

func TestRunDisabledReturnsAtOnce(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dir = "/nonexistent/never/created"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(t.Context()); err != nil {
		t.Fatalf("Run of a disabled scheduler = %v, want nil", err)
	}
}

func TestRunTakesEverySlotOnce(t *testing.T) {
	invariants.Fault(t, "T25")
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		s, err := New(testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		s.attempt = rec.attempt(time.Now)
		start := time.Now()
		stop := startScheduler(t, s)
		time.Sleep(3*24*time.Hour + time.Hour)
		if err := stop(); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		calls, slots := rec.snapshot()
		var want []time.Time
		for d := (schedule.Daily{Hour: 3}).Next(start); len(want) < 3; d = d.Add(24 * time.Hour) {
			want = append(want, d)
		}
		if diff := cmp.Diff(want, slots); diff != "" {
			t.Errorf("slots taken (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, calls); diff != "" {
			t.Errorf("attempt times (-want +got):\n%s", diff)
		}
	})
}

func TestRetriesWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{fail: func(n int) error {
			if n <= 5 {
				return errors.New("server down")
			}
			return nil
		}}
		s, err := New(testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		s.attempt = rec.attempt(time.Now)
		stop := startScheduler(t, s)
		time.Sleep(28 * time.Hour)
		stop()
		calls, slots := rec.snapshot()
		if len(calls) < 6 {
			t.Fatalf("attempts = %d, want at least 6", len(calls))
		}
		var gaps []time.Duration
		for i := 1; i < 6; i++ {
			gaps = append(gaps, calls[i].Sub(calls[i-1]))
		}
		want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second, time.Minute}
		if diff := cmp.Diff(want, gaps); diff != "" {
			t.Errorf("delays between attempts (-want +got):\n%s", diff)
		}
		for i := 1; i < 6; i++ {
			if !slots[i].Equal(slots[0]) {
				t.Errorf("retry %d was for slot %v, want %v", i, slots[i], slots[0])
			}
		}
		if st := s.Stats(); st.AttemptsFailed != 5 || st.SnapshotsCommitted != 2 || st.LastSuccess.IsZero() {
			t.Errorf("Stats() = %+v, want 5 failed attempts and 2 committed snapshots", st)
		}
		// After the success, the next attempt is the next day's slot.
		if len(calls) != 7 || !calls[6].Equal(slots[0].Add(24*time.Hour)) {
			t.Errorf("attempts after success = %v, want one at %v", calls[6:], slots[0].Add(24*time.Hour))
		}
	})
}

func TestRetriesStopWhenNextSlotIsDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{fail: func(int) error { return errors.New("server down") }}
		s, err := New(testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		s.attempt = rec.attempt(time.Now)
		stop := startScheduler(t, s)
		time.Sleep(50 * time.Hour)
		stop()
		calls, slots := rec.snapshot()
		first := slots[0]
		next := first.Add(24 * time.Hour)
		var forFirst, forNext int
		for i, sl := range slots {
			switch {
			case sl.Equal(first):
				forFirst++
				if !calls[i].Before(next) {
					t.Errorf("attempt for slot %v at %v, after the next slot was due", sl, calls[i])
				}
			case sl.Equal(next):
				forNext++
			}
		}
		if forFirst < 100 || forNext < 1 {
			t.Errorf("attempts: %d for the first slot, %d for the next; want retries all day, then the next slot taken", forFirst, forNext)
		}
	})
}

func TestSlotTakenIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{fail: func(int) error { return ErrSlotTaken }}
		s, err := New(testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		s.attempt = rec.attempt(time.Now)
		stop := startScheduler(t, s)
		time.Sleep(25 * time.Hour)
		stop()
		if calls, _ := rec.snapshot(); len(calls) != 1 {
			t.Errorf("attempts = %d, want 1: a slot already stored is skipped, not retried", len(calls))
		}
	})
}

func TestCancelReturnsPromptly(t *testing.T) {
	invariants.Fault(t, "T5")
	for _, tc := range []struct {
		name  string
		after time.Duration
	}{
		{"idle", time.Hour},
		{"in backoff", 24*time.Hour + 2*time.Second}, // 2 s into the first 5 s backoff
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{fail: func(int) error { return errors.New("server down") }}
				s, err := New(testConfig(t))
				if err != nil {
					t.Fatal(err)
				}
				s.attempt = rec.attempt(time.Now)
				// Start exactly at 03:00 so the first slot is 24 h away.
				time.Sleep(time.Until(schedule.Daily{Hour: 3}.Next(time.Now())))
				stop := startScheduler(t, s)
				time.Sleep(tc.after)
				before := time.Now()
				if err := stop(); err != nil {
					t.Fatalf("Run = %v, want nil", err)
				}
				if d := time.Since(before); d != 0 {
					t.Errorf("Run returned %v (virtual) after cancel, want at once", d)
				}
			})
		})
	}
}

// jumpClock is a wall clock that can be moved while virtual time runs on.
type jumpClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *jumpClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *jumpClock) jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func TestClockJumps(t *testing.T) {
	invariants.Fault(t, "T26")
	synctest.Test(t, func(t *testing.T) {
		clock := &jumpClock{}
		rec := &recorder{}
		s, err := New(testConfig(t), WithClock(clock.now))
		if err != nil {
			t.Fatal(err)
		}
		s.attempt = rec.attempt(clock.now)
		// Start at 01:00 wall time; the slot is 03:00.
		time.Sleep(time.Until(schedule.Daily{Hour: 1}.Next(time.Now())))
		stop := startScheduler(t, s)
		time.Sleep(time.Minute)
		clock.jump(3 * time.Hour) // now about 04:01: the 03:00 slot has passed
		time.Sleep(2 * time.Minute)
		calls, _ := rec.snapshot()
		if len(calls) != 1 {
			t.Fatalf("attempts after a forward jump = %d, want 1", len(calls))
		}
		clock.jump(-2 * time.Hour) // back to about 02:03: 03:00 comes round again
		time.Sleep(3 * time.Hour)
		stop()
		calls, slots := rec.snapshot()
		for i := 1; i < len(slots); i++ {
			if slots[i].Equal(slots[0]) {
				t.Errorf("slot %v taken twice after the clock went back", slots[0])
			}
		}
		if len(calls) != 1 {
			t.Errorf("attempts = %d, want 1", len(calls))
		}
	})
}

func TestDailyDrills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		cfg.DrillSchedule = DrillDaily
		cfg.Schedule = schedule.Daily{Hour: 23, Minute: 59}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// One snapshot in the store to drill (its data is never read: the drill is stubbed).
		at := time.Now().Add(-time.Hour)
		name := catalog.Name(s.target, at)
		snap := Snapshot{ManifestVersion: catalog.ManifestVersion, Name: name, Target: s.target, Database: "app",
			StartedAt: at, FinishedAt: at.Add(time.Minute), Data: catalog.DataKey(name, FormatCustom, CompressionPGDump, false),
			Size: 123456, SHA256: strings.Repeat("ab", 32), Format: FormatCustom, Compression: CompressionPGDump,
			PGDumpVersion: "15.18", ServerVersion: "15.18"}
		if err := s.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := s.cat.CommitManifest(t.Context(), s.cat.Destinations()[0], snap); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var drilled []time.Time
		s.attempt = (&recorder{}).attempt(time.Now)
		s.drillFn = func(ctx context.Context, sn Snapshot) (Drill, error) {
			mu.Lock()
			defer mu.Unlock()
			if sn.Name != snap.Name {
				t.Errorf("drilled %s, want the newest snapshot %s", sn.Name, snap.Name)
			}
			drilled = append(drilled, time.Now())
			return Drill{Snapshot: sn.Name, At: time.Now(), OK: true}, nil
		}
		start := time.Now()
		stop := startScheduler(t, s)
		time.Sleep(50 * time.Hour)
		stop()
		mu.Lock()
		defer mu.Unlock()
		want := []time.Time{start, start.Add(24 * time.Hour), start.Add(48 * time.Hour)}
		if diff := cmp.Diff(want, drilled); diff != "" {
			t.Errorf("drill times (-want +got):\n%s", diff)
		}
	})
}

// T25: after downtime, the newest missed slot is taken once at start-up when it is inside the
// catch-up window; with skip, or outside the window, Run waits for the next slot.
func TestCatchUp(t *testing.T) {
	invariants.Fault(t, "T25")
	for _, tc := range []struct {
		name     string
		mode     string
		window   time.Duration
		caughtUp bool
	}{
		{"once inside the window", CatchUpOnce, 24 * time.Hour, true},
		{"once outside the window", CatchUpOnce, 6 * time.Hour, false},
		{"skip", CatchUpSkip, 24 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// The bubble starts at 2000-01-01 00:00 UTC: the 03:00 slot was missed 21 h ago.
				cfg := testConfig(t)
				cfg.CatchUp, cfg.CatchUpWindow = tc.mode, tc.window
				rec := &recorder{}
				s, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				s.attempt = rec.attempt(time.Now)
				start := time.Now()
				stop := startScheduler(t, s)
				time.Sleep(4 * time.Hour)
				stop()
				_, slots := rec.snapshot()
				var want []time.Time
				if tc.caughtUp {
					want = append(want, start.Add(-21*time.Hour))
				}
				want = append(want, start.Add(3*time.Hour))
				if diff := cmp.Diff(want, slots); diff != "" {
					t.Errorf("slots taken (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// T27: a dump longer than the interval (every minute, the attempt takes 90 s): never two at
// once; the slot that passed meanwhile is skipped, logged and counted.
func TestDumpLongerThanInterval(t *testing.T) {
	invariants.Fault(t, "T27")
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		cr, err := schedule.ParseCron("* * * * *", nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Schedule = cr
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		running, most := 0, 0
		var slots []time.Time
		s.attempt = func(ctx context.Context, slot *time.Time) (Snapshot, error) {
			mu.Lock()
			running++
			most = max(most, running)
			slots = append(slots, *slot)
			mu.Unlock()
			time.Sleep(90 * time.Second)
			mu.Lock()
			running--
			mu.Unlock()
			return Snapshot{Name: "x", StartedAt: *slot, FinishedAt: time.Now()}, nil
		}
		start := time.Now()
		stop := startScheduler(t, s)
		time.Sleep(5*time.Minute + 30*time.Second)
		stop()
		mu.Lock()
		defer mu.Unlock()
		want := []time.Time{start.Add(time.Minute), start.Add(3 * time.Minute), start.Add(5 * time.Minute)}
		if diff := cmp.Diff(want, slots); diff != "" {
			t.Errorf("slots taken (-want +got):\n%s", diff)
		}
		if most != 1 {
			t.Errorf("at most %d dumps ran at once, want 1", most)
		}
		if got := s.Stats().SlotsSkipped; got != 2 {
			t.Errorf("Stats().SlotsSkipped = %d, want 2", got)
		}
	})
}
