package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// shutdownLimit is how long a test waits for pgsnap to exit after its signal before it kills
// it; INV-10's bound itself is checked by AssertStoreInvariants.
const shutdownLimit = 2 * invariants.ShutdownLimit

// bigDB makes a database whose dump through a throttled proxy lasts long enough to be
// interrupted, and returns the database name and a URL through the proxy.
func bigDB(t *testing.T, c *pgtest.Cluster) (db, slowURL string) {
	t.Helper()
	db = c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 100000) g"); err != nil {
		t.Fatal(err)
	}
	slow := pgtest.Throttle(t, c.Addr(), 512<<10)
	return db, strings.Replace(c.URL(db), c.Addr(), slow, 1)
}

// T1 for `pgsnap snapshot`: SIGTERM mid-dump exits non-zero saying it was cancelled, with no
// child, session, temporary file or listed snapshot left, and earlier snapshots unchanged.
func TestSnapshotSIGTERMMidDump(t *testing.T) {
	invariants.Fault(t, "T1")
	c := pgtest.Get(t)
	db, slowURL := bigDB(t, c)
	dir := filepath.Join(t.TempDir(), "snapshots")
	if r := runPgsnap(t, map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir}, "snapshot"); r.code != 0 {
		t.Fatalf("first snapshot: exit %d", r.code)
	}
	before := invariants.Snapshot(t, dir)
	// pg_dump's compressed output does not grow evenly (the end comes in a burst) and reaches the
	// file in 1 MiB writes, so the interruption points are set by bytes written: as soon as the
	// temporary file exists (pg_dump still reading the catalog), after 1 MiB and after 2 MiB
	// (about 60 % and 80 % of this dump's time through the throttle).
	for _, at := range []int64{0, 1 << 20, 2 << 20} {
		t.Run(fmt.Sprintf("after %d bytes", at), func(t *testing.T) {
			waitNextSecond()
			cmd, _, stderr := pgsnapCmd(t, map[string]string{"DATABASE_URL": slowURL, "SNAPSHOT_DIR": dir}, "snapshot")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if !invariants.WaitForTemp(t, dir, at, 2*time.Minute) {
				cmd.Process.Kill()
				cmd.Wait()
				return
			}
			sent := time.Now()
			cmd.Process.Signal(syscall.SIGTERM)
			code, took := waitExit(t, cmd, sent, shutdownLimit)
			if code == 0 || !strings.Contains(stderr.String(), "cancelled") {
				t.Errorf("snapshot after SIGTERM: exit %d, stderr %q; want non-zero and \"cancelled\"", code, stderr.String())
			}
			invariants.Report(t, "T1 snapshot SIGTERM after %d bytes written: exit %d after %.2f s", at, code, took.Seconds())
			assertNoPgDump(t, db)
			names := invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, Cluster: c, Database: db, DirCreated: true, Shutdown: took, MinComplete: 1})
			if len(names) != 1 {
				t.Errorf("listed %v, want only the earlier snapshot", names)
			}
		})
	}
}

// nextMinute returns the next wall-clock minute that is at least 15 s away, as HH:MM UTC.
func nextMinute() (string, time.Time) {
	slot := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	if time.Until(slot) < 15*time.Second {
		slot = slot.Add(time.Minute)
	}
	return slot.Format("15:04"), slot
}

// The acceptance for the daemon: with SNAPSHOT_TIME at the next minute, `pgsnap run`
// takes that slot's snapshot, and exits 0 within 5 s of SIGTERM. Alongside, T1 for the daemon:
// a second daemon whose dump is slow is stopped mid-dump by SIGTERM and exits 0 leaving nothing.
func TestRunTakesSlotAndStopsOnSIGTERM(t *testing.T) {
	invariants.Fault(t, "T1")
	c := pgtest.Get(t)
	hhmm, slot := nextMinute()
	t.Run("slot", func(t *testing.T) {
		t.Parallel()
		db := c.CreateDB(t)
		if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g"); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "snapshots")
		env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_TIME": hhmm, "SNAPSHOT_CATCH_UP": "skip"}
		cmd, _, stderr := pgsnapCmd(t, env, "run")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(dir, db+"-"+slot.Format("20060102T150405Z")+".json")
		for deadline := slot.Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if _, err := os.Stat(want); err == nil {
				break
			}
		}
		if _, err := os.Stat(want); err != nil {
			t.Errorf("slot snapshot: %v", err)
		}
		sent := time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		code, took := waitExit(t, cmd, sent, shutdownLimit)
		if code != 0 {
			t.Errorf("run after SIGTERM: exit %d, want 0; stderr:\n%s", code, stderr)
		}
		invariants.Report(t, "run slot %s then SIGTERM: exit %d after %.2f s", hhmm, code, took.Seconds())
		invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, Database: db, DirCreated: true, Shutdown: took, MinComplete: 1})
	})
	t.Run("mid-dump", func(t *testing.T) {
		t.Parallel()
		db, slowURL := bigDB(t, c)
		dir := filepath.Join(t.TempDir(), "snapshots")
		cmd, _, stderr := pgsnapCmd(t, map[string]string{"DATABASE_URL": slowURL, "SNAPSHOT_DIR": dir, "SNAPSHOT_TIME": hhmm, "SNAPSHOT_CATCH_UP": "skip"}, "run")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		invariants.WaitForTemp(t, dir, 256<<10, time.Until(slot)+time.Minute)
		sent := time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		code, took := waitExit(t, cmd, sent, shutdownLimit)
		if code != 0 {
			t.Errorf("run after SIGTERM mid-dump: exit %d, want 0; stderr:\n%s", code, stderr)
		}
		invariants.Report(t, "T1 run SIGTERM mid-dump: exit %d after %.2f s", code, took.Seconds())
		assertNoPgDump(t, db)
		if names := invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, Database: db, DirCreated: true, Shutdown: took}); len(names) != 0 {
			t.Errorf("listed %v after an interrupted dump, want none", names)
		}
	})
}

// T15: an unwritable SNAPSHOT_DIR fails `run` at start and `snapshot` before pg_dump starts,
// naming SNAPSHOT_DIR, the path and the user. Root ignores mode bits, so pgsnap runs as nobody.
func TestUnwritableDirAsNobody(t *testing.T) {
	invariants.Fault(t, "T15")
	if os.Geteuid() != 0 {
		t.Skip("needs root to run pgsnap as nobody (root ignores mode bits)")
	}
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	rootOwned := filepath.Join(base, "root-owned")
	if err := os.Mkdir(rootOwned, 0o755); err != nil {
		t.Fatal(err)
	}
	regular := filepath.Join(base, "file")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"root-owned 0755 dir": rootOwned,
		"regular file":        regular,
		"missing parent":      filepath.Join(rootOwned, "sub", "snapshots"),
	}
	for name, dir := range cases {
		for _, command := range []string{"run", "snapshot"} {
			t.Run(name+"/"+command, func(t *testing.T) {
				cmd, _, stderr := pgsnapCmd(t, map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir}, command)
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
				code, _ := runToEnd(t, cmd)
				if code == 0 {
					t.Fatalf("exit 0, want a failure")
				}
				for _, want := range []string{"SNAPSHOT_DIR", dir, "uid 65534"} {
					if !strings.Contains(stderr.String(), want) {
						t.Errorf("stderr %q does not name %q", stderr, want)
					}
				}
				if strings.Contains(stderr.String(), c.Password) {
					t.Error("stderr shows the password")
				}
				invariants.AssertNoSessions(t, c, db)
			})
		}
	}
	invariants.Report(t, "T15 unwritable dir: rejected before pg_dump %d/%d", len(cases)*2, len(cases)*2)
}

func runToEnd(t *testing.T, cmd *exec.Cmd) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return waitExit(t, cmd, start, 2*time.Minute)
}
