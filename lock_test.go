package pgsnap_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/schedule"
)

// While another session holds the target's advisory lock, a snapshot waits for it without
// dumping and, when its context ends first, fails with ErrLocked; once it is released, the
// snapshot is taken.
func TestTargetLockIsExclusive(t *testing.T) {
	// About 5 MB of rows: through the throttle the holder's dump lasts several seconds.
	f := newFixture(t, "CREATE TABLE t AS SELECT g, md5(g::text) || md5((g*7)::text) AS payload FROM generate_series(1, 60000) g")
	cfg := f.config(f.c.URL(f.db))
	s := f.scheduler(t, cfg)
	locked := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	// The holder is another pgsnap of the same target whose snapshot is slow (a throttled
	// connection), as a replica of the service would be.
	slow := f.config(throttledURL(t, f))
	other := f.scheduler(t, slow)
	wg.Go(func() {
		go func() {
			waitForLockHolder(t, f)
			close(locked)
		}()
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-release; cancel() }()
		other.SnapshotNow(ctx)
	})
	<-locked
	wctx, wcancel := context.WithTimeout(t.Context(), 2*time.Second)
	_, err := s.SnapshotNow(wctx)
	wcancel()
	if !errors.Is(err, pgsnap.ErrLocked) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SnapshotNow while another pgsnap holds the lock until its context ends = %v, want ErrLocked after waiting", err)
	}
	close(release)
	wg.Wait()
	if _, err := s.SnapshotNow(t.Context()); err != nil {
		t.Errorf("SnapshotNow after the holder ended = %v", err)
	}
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, Database: f.db, MinComplete: 1})
}

// A snapshot taken while the target's lock is held for a moment (the daemon's own start-up sync
// or an operator's prune) waits for it and is taken, rather than failing.
func TestSnapshotWaitsForABriefLockHolder(t *testing.T) {
	f := newFixture(t, "CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g")
	cfg := f.config(f.c.URL(f.db))
	s := f.scheduler(t, cfg)
	info, err := cfg.DatabaseURL.Parse()
	if err != nil {
		t.Fatal(err)
	}
	release, err := catalog.WriterLock(t.Context(), info, s.Target())
	if err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(700*time.Millisecond, release)
	defer timer.Stop()
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatalf("SnapshotNow while the lock is held for 700 ms = %v, want it taken after the wait", err)
	}
	if snap.Name == "" {
		t.Error("SnapshotNow returned no snapshot")
	}
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, Database: f.db, MinComplete: 1})
}

func throttledURL(t *testing.T, f *fixture) string {
	return strings.Replace(f.c.URL(f.db), f.c.Addr(), throttledAddr(t, f), 1)
}

func countLines(text, substr string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// waitForLockHolder waits until a pgsnap-lock session holds an advisory lock.
func waitForLockHolder(t *testing.T, f *fixture) {
	conn, err := f.c.Connect(context.Background(), "postgres")
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var n int
		conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'pgsnap-lock'`).Scan(&n)
		if n > 0 {
			return
		}
	}
	t.Error("no pgsnap took the target lock")
}

// T28 in one process: three schedulers of the same target sharing a store take one snapshot
// for the slot; the others wait for the lock, then find the slot stored.
func TestThreeSchedulersOneSnapshotPerSlot(t *testing.T) {
	invariants.Fault(t, "T28")
	f := newFixture(t, "CREATE TABLE t AS SELECT generate_series(1, 50000) AS g")
	slot := (schedule.Daily{Hour: 3}).Next(time.Now())
	offset := time.Until(slot.Add(-2 * time.Second))
	clock := func() time.Time { return time.Now().Add(offset) }
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 3 {
		cfg := f.config(f.c.URL(f.db))
		cfg.Enabled = true
		s := f.scheduler(t, cfg, pgsnap.WithClock(clock), pgsnap.WithBackoff(func(int) time.Duration { return 300 * time.Millisecond }))
		wg.Go(func() { s.Run(ctx) })
	}
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	var snaps []pgsnap.Snapshot
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && len(snaps) == 0; time.Sleep(100 * time.Millisecond) {
		snaps, _ = s.List(t.Context())
	}
	time.Sleep(3 * time.Second) // the others' retries come and go
	cancel()
	wg.Wait()
	snaps, _ = s.List(t.Context())
	if len(snaps) != 1 {
		t.Errorf("3 schedulers, 1 slot: %d snapshots, want 1", len(snaps))
	}
	skipped := countLines(f.logBuf.String(), "slot already stored, skipped")
	invariants.Report(t, "T28 three schedulers in one process: snapshots for the slot %d/1, others skipped %d/2", len(snaps), skipped)
	if skipped != 2 {
		t.Errorf("%d schedulers logged the slot as already stored, want 2", skipped)
	}
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, Database: f.db, MinComplete: 1})
}
