package pgsnap_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// T8: the server is lost in the middle of a dump: pg_ctl stop -m fast, -m immediate, and
// pg_terminate_backend of pg_dump's session. Each fails naming the server-side cause with a
// bounded stderr tail, leaves no temporary file and lists nothing; the next attempt, once the
// server is back, succeeds.
func TestServerLostMidDump(t *testing.T) {
	invariants.Fault(t, "T8")
	c := pgtest.StartOwn(t)
	valve, slowURL := bigDB(t, c)
	directURL := c.URL("app")
	dir := filepath.Join(t.TempDir(), "snapshots")
	same := func(cfg *pgsnap.Config) { cfg.Dir, cfg.Target = dir, "app" }
	modes := []struct {
		name   string
		strike func(t *testing.T, pid int) error
	}{
		{"pg_ctl stop -m fast", func(*testing.T, int) error { return c.StopServer("fast") }},
		{"pg_ctl stop -m immediate", func(*testing.T, int) error { return c.StopServer("immediate") }},
		{"pg_terminate_backend", func(t *testing.T, pid int) error {
			return c.Exec(t.Context(), "postgres", "SELECT pg_terminate_backend($1)", pid)
		}},
	}
	clean, recovered, maxTail := 0, 0, 0
	var causes []string
	for i, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			before := invariants.Snapshot(t, dir)
			valve.shut()
			lost := newOwnTarget(t, slowURL, same)
			done := make(chan error, 1)
			go func() {
				_, err := lost.s.SnapshotNow(t.Context())
				done <- err
			}()
			if err := m.strike(t, copyingBackend(t, c, "app")); err != nil {
				t.Fatal(err)
			}
			valve.open() // what the server sent before the strike arrives at once
			err := <-done
			if err == nil {
				t.Fatal("the snapshot succeeded although the server was lost mid-dump")
			}
			cause := ""
			for _, phrase := range connectionCauses {
				if strings.Contains(err.Error(), phrase) {
					cause = phrase
					break
				}
			}
			causes = append(causes, cause)
			if st := lost.s.Stats(); cause == "" || st.Failures["connection"] != 1 || !strings.HasPrefix(err.Error(), "lost the connection to the server at ") {
				t.Errorf("error %q (reasons %v): want a connection failure naming the server-side cause first", err, st.Failures)
			}
			var ee *dump.ExitError
			if errors.As(err, &ee) {
				maxTail = max(maxTail, len(ee.Stderr))
				if len(ee.Stderr) > 4<<10 {
					t.Errorf("stderr tail of %d bytes, want at most 4 KiB", len(ee.Stderr))
				}
			}
			if temps := tempFiles(dir); len(temps) != 0 {
				t.Errorf("temporary files left: %v", temps)
			}
			if snaps, _ := lost.s.List(t.Context()); len(snaps) != i {
				t.Errorf("%d snapshots listed after the fault, want the %d from before", len(snaps), i)
			} else {
				clean++
			}
			if err := c.StartServer(); err != nil { // a no-op after pg_terminate_backend
				t.Fatal(err)
			}
			// Manual snapshots are named by the second: each mode's gets an hour of its own.
			later := func() time.Time { return time.Now().Add(time.Duration(i) * time.Hour) }
			if _, err := newOwnTarget(t, directURL, same, pgsnap.WithClock(later)).s.SnapshotNow(t.Context()); err != nil {
				t.Errorf("the next attempt after the server came back: %v", err)
			} else {
				recovered++
			}
			invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, Cluster: c, MinComplete: i + 1})
		})
	}
	invariants.Report(t, "T8 server lost mid-dump: stop modes %d/3 no partial listed, %d/3 recovered; causes named %q; stderr tail max %d B",
		clean, recovered, causes, maxTail)
}

// T9 (b, c): a frozen dump is ended by SNAPSHOT_TIMEOUT=5s, whether the server backend serving
// pg_dump or pg_dump itself is SIGSTOPped: pg_dump's process group is killed (SIGKILL works on
// stopped processes), nothing temporary is left, and once the backend is continued no session
// outlives the attempt (INV-3).
func TestFrozenDumpTimesOut(t *testing.T) {
	invariants.Fault(t, "T9")
	invariants.RequireRoot(t) // signals the server's processes, which run as another user
	c := pgtest.StartOwn(t)
	_, slowURL := bigDB(t, c)
	const limit = 5 * time.Second
	freezes := []struct {
		name string
		pid  func(t *testing.T, backend int) int // the process to stop
	}{
		{"backend SIGSTOP", func(_ *testing.T, backend int) int { return backend }},
		{"pg_dump SIGSTOP", func(t *testing.T, _ int) int {
			kids := invariants.ChildProcesses(os.Getpid())
			if len(kids) != 1 {
				t.Fatalf("pg_dump children: %v, want one", kids)
			}
			pid, _, _ := strings.Cut(kids[0], ":")
			n, err := strconv.Atoi(pid)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}},
	}
	var fired []string
	for _, fz := range freezes {
		t.Run(fz.name, func(t *testing.T) {
			ot := newOwnTarget(t, slowURL, func(cfg *pgsnap.Config) { cfg.Timeout = limit })
			if err := os.MkdirAll(ot.dir, 0o700); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				_, err := ot.s.SnapshotNow(t.Context())
				done <- err
			}()
			pid := fz.pid(t, copyingBackend(t, c, "app"))
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			defer syscall.Kill(pid, syscall.SIGCONT) // also when the test fails early
			var err error
			select {
			case err = <-done:
			case <-time.After(limit + 30*time.Second):
				t.Fatalf("the attempt did not end %v after its %v timeout", 30*time.Second, limit)
			}
			took := time.Since(start)
			fired = append(fired, fmt.Sprintf("%s %.1f s", fz.name, took.Seconds()))
			var te *pgsnap.TimeoutError
			if !errors.As(err, &te) || !strings.HasPrefix(err.Error(), "timed out after 5s (SNAPSHOT_TIMEOUT)") || ot.s.Stats().Failures["timeout"] != 1 {
				t.Errorf("SnapshotNow = %v (reasons %v), want a timeout naming SNAPSHOT_TIMEOUT first", err, ot.s.Stats().Failures)
			}
			if took < limit {
				t.Errorf("failed after %v, before the %v limit", took, limit)
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); fz.name == "pg_dump SIGSTOP" && err == nil {
				t.Errorf("pg_dump %d still exists after the timeout", pid)
			}
			// Continue the backend: with its client gone it ends, and no session outlives the
			// attempt.
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
				t.Error(err)
			}
			if names := invariants.AssertStoreInvariants(t, ot.dir, invariants.Options{Cluster: c, Failure: err,
				FailureMentions: []string{"SNAPSHOT_TIMEOUT", "5s"}}); len(names) != 0 {
				t.Errorf("listed %v after the timeout", names)
			}
		})
	}
	invariants.Report(t, "T9b/c frozen dump: overall timeout fired at %s (limit 5 s); children left 0, sessions left 0", strings.Join(fired, ", "))
}
