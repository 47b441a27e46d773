package pgsnap_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/pgsnap/pgsnap/internal/invariants"
)

// Faults in the middle of the pipeline (pg_dump killed, the disk full under the store, a cancel
// while pg_dump waits for a lock or streams) end every goroutine of the pipeline, leave no
// temporary file and list nothing. Each runs with compression and age encryption on, so every
// stage is in the path.
func TestPipelineFaultsLeaveNothing(t *testing.T) {
	f := newFixture(t, `CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 100000) g;
		CREATE TABLE small (id int)`)
	recipient, _ := ageKey(t)
	cases := []struct {
		name   string
		dir    func(t *testing.T) string                                 // the store directory
		fault  func(t *testing.T, dir string, cancel context.CancelFunc) // injected once the stage is reached
		wantIs error                                                     // the snapshot's error wraps it
		wantIn string                                                    // or says this
	}{
		{
			name: "pg_dump killed mid-stream",
			fault: func(t *testing.T, dir string, _ context.CancelFunc) {
				invariants.WaitForTemp(t, dir, 1, 30*time.Second)
				killProcess(t, "pg_dump", f.db)
			},
			wantIn: "pg_dump",
		},
		{
			name: "disk full under the store",
			dir: func(t *testing.T) string {
				return mountTmpfs(t, "size=256k")
			},
			wantIs: syscall.ENOSPC,
		},
		{
			name: "cancel while pg_dump waits for a lock",
			fault: func(t *testing.T, dir string, cancel context.CancelFunc) {
				holdLock(t, f.c, f.db, "small")
				waitForLockWait(t, f)
				cancel()
			},
			wantIs: context.Canceled,
		},
		{
			name: "cancel mid-stream",
			fault: func(t *testing.T, dir string, cancel context.CancelFunc) {
				invariants.WaitForTemp(t, dir, 1, 30*time.Second)
				cancel()
			},
			wantIs: context.Canceled,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "snapshots")
			if tc.dir != nil {
				dir = tc.dir(t)
			}
			cfg := f.config(strings.Replace(f.c.URL(f.db), f.c.Addr(), throttledAddr(t, f), 1))
			cfg.Dir = dir
			cfg.AgeRecipients = []string{recipient}
			s := f.scheduler(t, cfg)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			before := goleak.IgnoreCurrent()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			faulted := make(chan struct{})
			go func() {
				defer close(faulted)
				if tc.fault != nil {
					tc.fault(t, dir, cancel)
				}
			}()
			_, err := s.SnapshotNow(ctx)
			<-faulted
			if err == nil {
				t.Fatal("snapshot succeeded despite the fault")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) || tc.wantIn != "" && !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("snapshot error = %v, want one wrapping %v / saying %q", err, tc.wantIs, tc.wantIn)
			}
			// The pipeline's goroutines (compressors, writer, pg_dump's copier) are all gone.
			goleak.VerifyNone(t, before)
			if names := invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: f.c}); len(names) != 0 {
				t.Errorf("listed %v after the fault, want nothing", names)
			}
			if listed, err := s.List(context.Background()); err != nil || len(listed) != 0 {
				t.Errorf("List after the fault = %v, %v; want nothing", listed, err)
			}
		})
	}
}

// killProcess sends SIGKILL to the process named name whose command line holds arg.
func killProcess(t *testing.T, name, arg string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil {
				continue
			}
			args := bytes.Split(cmdline, []byte{0})
			if filepath.Base(string(args[0])) == name && bytes.Contains(cmdline, []byte(arg)) {
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatalf("kill %s %d: %v", name, pid, err)
				}
				return
			}
		}
	}
	t.Fatalf("no %s process for %s appeared", name, arg)
}

// waitForLockWait waits until a pg_dump session of f's database waits for a lock.
func waitForLockWait(t *testing.T, f *fixture) {
	t.Helper()
	conn, err := f.c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND application_name = 'pgsnap' AND wait_event_type = 'Lock'`, f.db).Scan(&n)
		if err == nil && n > 0 {
			return
		}
	}
	t.Fatal("pg_dump never waited for the lock")
}

// mountTmpfs mounts a small tmpfs (options as for mount -o) and unmounts it at cleanup. It needs
// root; without it the test is skipped, except in CI.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatalf("mount tmpfs on %s: %v", dir, err)
		}
		t.Skipf("mount tmpfs on %s: %v (needs root)", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, 0) })
	return dir
}
