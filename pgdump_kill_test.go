package pgsnap_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
	"github.com/pgsnap/pgsnap/schedule"
)

// T2 (b) in the scheduler: pg_dump killed by SIGKILL mid-dump (the OOM killer) fails the
// attempt, which is logged at ERROR and counted naming pg_dump and the signal, commits nothing,
// and the retry after the (short, injected) backoff commits the slot's snapshot.
func TestPgDumpKilledThenRetried(t *testing.T) {
	invariants.Fault(t, "T2")
	f := newFixture(t, "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 30000) g")
	// Through a throttle, the dump lasts about a second: long enough to strike mid-copy.
	slow := pgtest.Throttle(t, f.c.Addr(), 2<<20)
	cfg := f.config(strings.Replace(f.c.URL(f.db), f.c.Addr(), slow, 1))
	cfg.Enabled = true
	slot := (schedule.Daily{Hour: 3}).Next(time.Now())
	offset := time.Until(slot.Add(-time.Second))
	clock := func() time.Time { return time.Now().Add(offset) }
	s := f.scheduler(t, cfg, pgsnap.WithClock(clock), pgsnap.WithBackoff(func(int) time.Duration { return 200 * time.Millisecond }))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop := sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { stop() }) // also on t.Fatal

	killed := killPgDumpMidCopy(t, f.c, f.db)
	var snaps []pgsnap.Snapshot
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(snaps) == 0; time.Sleep(100 * time.Millisecond) {
		snaps, _ = s.List(t.Context())
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}

	st := s.Stats()
	named := strings.Contains(st.LastError, "pg_dump killed by signal 9 (killed)")
	logged := strings.Contains(f.logBuf.String(), "level=ERROR msg=\"snapshot failed\"")
	if !killed || !named || !logged || st.AttemptsFailed != 1 || st.Failures["dump"] != 1 {
		t.Errorf("after killing pg_dump: killed %t, failed attempts %d (by reason %v), last error %q, ERROR logged %t; want one dump failure naming pg_dump and signal 9",
			killed, st.AttemptsFailed, st.Failures, st.LastError, logged)
	}
	if len(snaps) != 1 || st.SnapshotsCommitted != 1 || st.Retries < 1 {
		t.Errorf("after the retry: listed %d, committed %d, retries %d; want the slot's snapshot from a retry", len(snaps), st.SnapshotsCommitted, st.Retries)
	} else if snaps[0].Slot == nil || !snaps[0].Slot.Equal(slot) {
		t.Errorf("snapshot %s is for slot %v, want %v", snaps[0].Name, snaps[0].Slot, slot)
	}
	reported := 0
	if named && logged && st.Failures["dump"] == 1 {
		reported = 1
	}
	invariants.Report(t, "T2 pg_dump kill -9 in the scheduler: reported as failure %d/1, snapshots committed %d (after %d retries), want 1",
		reported, st.SnapshotsCommitted, st.Retries)
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, Database: f.db, DirCreated: true, MinComplete: 1})
}

// killPgDumpMidCopy waits until pg_dump, a child of this process, copies table data from db,
// then kills it with SIGKILL, and reports whether it did.
func killPgDumpMidCopy(t *testing.T, c *pgtest.Cluster, db string) bool {
	t.Helper()
	conn, err := c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'pgsnap' AND datname = $1 AND query LIKE 'COPY %'`, db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			continue
		}
		for _, k := range invariants.ChildProcesses(os.Getpid()) {
			pid, comm, _ := strings.Cut(k, ":")
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			if comm == "pg_dump" && strings.Contains(string(cmdline), db) { // ours, not another test's
				p, _ := strconv.Atoi(pid)
				return syscall.Kill(p, syscall.SIGKILL) == nil
			}
		}
	}
	t.Error("pg_dump never copied data")
	return false
}
