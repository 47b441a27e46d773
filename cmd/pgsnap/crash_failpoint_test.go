//go:build failpoints

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// Crash tests of the pgsnap binary (RELIABILITY.md T2, T3). A crash at a chosen step is a
// SIGKILL from the test, or the failpoint binary killing itself where PGSNAP_FAILPOINT says.
// Run with: go test -tags failpoints -run Failpoint ./cmd/pgsnap

var fpBin struct {
	once sync.Once
	path string
	err  error
}

// failpointBin builds pgsnap with -tags failpoints once, beside pgsnapBin (TestMain removes it).
// The test binary's own tags do not reach TestMain's plain build, hence a second binary.
func failpointBin(t *testing.T) string {
	t.Helper()
	fpBin.once.Do(func() {
		fpBin.path = filepath.Join(filepath.Dir(pgsnapBin), "pgsnap-failpoints")
		out, err := exec.Command("go", "build", "-tags", "failpoints", "-o", fpBin.path, ".").CombinedOutput()
		if err != nil {
			fpBin.err = err
			fpBin.path = string(out)
		}
	})
	if fpBin.err != nil {
		t.Fatalf("build pgsnap -tags failpoints: %v\n%s", fpBin.err, fpBin.path)
	}
	return fpBin.path
}

// failpointCmd prepares a run of the failpoint binary with env and the failpoint armed.
func failpointCmd(t *testing.T, env map[string]string, failpoint string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(failpointBin(t), args...)
	cmd.Env = append(envList(env), "PGSNAP_FAILPOINT="+failpoint)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	return cmd, &stderr
}

// crashAt runs `pgsnap snapshot` with failpoint armed (action kill) and checks it died of
// SIGKILL there.
func crashAt(t *testing.T, env map[string]string, failpoint string) {
	t.Helper()
	cmd, stderr := failpointCmd(t, env, failpoint, "snapshot")
	code, _ := runToEnd(t, cmd)
	if !killed(cmd.ProcessState) {
		t.Fatalf("pgsnap snapshot with PGSNAP_FAILPOINT=%s: exit %d, want killed by SIGKILL; stderr:\n%s", failpoint, code, stderr)
	}
}

// killMidDump starts `pgsnap snapshot`, waits until pg_dump copies table data, SIGKILLs pgsnap
// (not pg_dump) and checks pg_dump and every pgsnap session follow it within INV-3's grace.
func killMidDump(t *testing.T, c *pgtest.Cluster, db string, env map[string]string) {
	t.Helper()
	cmd, _, stderr := pgsnapCmd(t, env, "snapshot")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dumping := waitDumping(t, c, db, cmd.Process.Pid, time.Minute)
	child := waitChild(cmd.Process.Pid, time.Second)
	cmd.Process.Signal(syscall.SIGKILL)
	code, _ := waitExit(t, cmd, time.Now(), shutdownLimit)
	if !dumping || child == 0 || !killed(cmd.ProcessState) {
		t.Fatalf("kill -9 mid-dump: copying %t, pg_dump pid %d, exit %d; stderr:\n%s", dumping, child, code, stderr)
	}
	assertNoPgDump(t, db)
	invariants.AssertNoSessions(t, c, db)
}

// T2 (a), the Trust issue's reproduction 5: kill -9 on `pgsnap snapshot` mid-dump and again after
// pg_dump ended (before the manifest), then a good snapshot. Neither crash lists anything, and
// the good run sweeps everything they left: no temporary file, intent record or data object
// without manifest remains.
func TestFailpointKill9SnapshotThenRestart(t *testing.T) {
	invariants.Fault(t, "T2")
	c := pgtest.Get(t)
	db, slowURL := crashDB(t, c)
	dir := filepath.Join(t.TempDir(), "snapshots")
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir}
	if r := runPgsnap(t, env, "snapshot"); r.code != 0 {
		t.Fatalf("first snapshot: exit %d", r.code)
	}
	before := invariants.Snapshot(t, dir)
	prev := listJSON(t, env)

	// 1. Mid-dump: pg_dump is streaming the table through the throttle when pgsnap is killed.
	waitNextSecond()
	killMidDump(t, c, db, map[string]string{"DATABASE_URL": slowURL, "SNAPSHOT_DIR": dir})
	afterMid := findStrays(t, dir)
	if got := listJSON(t, env); len(got) != len(prev) {
		t.Errorf("after kill -9 mid-dump list shows %v, want only %v", snapNames(got), snapNames(prev))
	}

	// 2. After pg_dump ended: its data object is committed and passed the gate; the failpoint
	// kills pgsnap just before the manifest. pg_dump has already exited.
	waitNextSecond()
	crashAt(t, env, "before-manifest:kill")
	afterEnd := findStrays(t, dir)
	invariants.AssertNoSessions(t, c, db)
	if got := listJSON(t, env); len(got) != len(prev) {
		t.Errorf("after kill -9 before the manifest list shows %v, want only %v", snapNames(got), snapNames(prev))
	}
	if len(afterEnd.orphans) != 1 {
		t.Errorf("after kill -9 before the manifest: %v, want one data object without manifest (the crash point was missed)", afterEnd)
	}

	// 3. The good run, a new process: it sweeps and commits.
	waitNextSecond()
	start := time.Now()
	r := runPgsnap(t, env, "snapshot")
	took := time.Since(start)
	if r.code != 0 {
		t.Fatalf("snapshot after two kills: exit %d", r.code)
	}
	left := findStrays(t, dir)
	invariants.Report(t, "T2 kill -9 mid-dump then after pg_dump, then restart: left by the kills (%v) then (%v); after the good run (%.1f s): %v",
		afterMid, afterEnd, took.Seconds(), left)
	if !left.none() {
		t.Errorf("after the good run SNAPSHOT_DIR still holds %v: %v %v %v", left, left.temps, left.intents, left.orphans)
	}
	names := invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, Cluster: c, Database: db, DirCreated: true, MinComplete: 2})
	if got := listJSON(t, env); len(got) != 2 || len(names) != 2 {
		t.Errorf("listed %v, on disk %v; want the first snapshot and the good one", snapNames(got), names)
	}
}

// T2 (a) at two more points (TestFailpointKill9SnapshotThenRestart strikes mid-copy and before
// the manifest): kill -9 while pg_dump waits for a table lock, and after the data object is committed, before
// the commit gate. Each time pg_dump dies with pgsnap, no session stays, nothing is listed, and
// the next run sweeps the leftovers and succeeds.
func TestFailpointKill9AtPointsThenRestart(t *testing.T) {
	invariants.Fault(t, "T2")
	c := pgtest.Get(t)
	db, _ := crashDB(t, c)
	dir := filepath.Join(t.TempDir(), "snapshots")
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir}
	points := []struct {
		name  string
		crash func(t *testing.T)
	}{
		{"pg_dump waiting for a table lock", func(t *testing.T) {
			// pg_dump waits for its lock and has written nothing to the pipe, whose broken end
			// would kill it too: only Pdeathsig ends it with pgsnap. The lock wait timeout
			// ends an orphan anyway, after the check.
			unlock := lockTable(t, c, db, "big")
			defer unlock()
			cmd, _, _ := pgsnapCmd(t, map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_LOCK_WAIT_TIMEOUT": "10s"}, "snapshot")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waiting := waitSession(t, c, db, cmd.Process.Pid, "wait_event_type = 'Lock'", "wait for a table lock", time.Minute)
			cmd.Process.Signal(syscall.SIGKILL)
			waitExit(t, cmd, time.Now(), shutdownLimit)
			if !waiting {
				t.FailNow()
			}
			assertNoPgDump(t, db)
		}},
		{"data committed, before the gate", func(t *testing.T) { crashAt(t, env, "after-data-commit:kill") }},
	}
	recovered, listedOrphans := 0, 0
	var before map[string]string
	for i, p := range points {
		ok := t.Run(p.name, func(t *testing.T) {
			waitNextSecond()
			prev := snapshotFiles(t, dir)
			p.crash(t)
			invariants.AssertNoSessions(t, c, db)
			if got := listJSON(t, env); len(got) != len(prev) {
				listedOrphans += len(got) - len(prev)
				t.Errorf("after kill -9 (%s) list shows %v, want %v", p.name, snapNames(got), prev)
			}
			waitNextSecond()
			if r := runPgsnap(t, env, "snapshot"); r.code != 0 {
				t.Fatalf("restart: exit %d", r.code)
			}
			if left := findStrays(t, dir); !left.none() {
				t.Errorf("after the restart: %v", left)
			}
			invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, Cluster: c, Database: db, MinComplete: i + 1})
			before = invariants.Snapshot(t, dir)
		})
		if ok {
			recovered++
		}
	}
	invariants.Report(t, "T2 kill -9 recoveries %d/%d, orphans listed %d", recovered, len(points), listedOrphans)
}

// T3: a crash (SIGKILL by failpoint) at every step of a commit and in the middle of a retention
// delete. The store then shows the snapshots it had before, or those plus the new one complete,
// never a listed partial; earlier snapshots are unchanged; and a normal run afterwards sweeps
// what the crash left and succeeds, leaving nothing stray.
func TestFailpointCrashAtEveryCommitStep(t *testing.T) {
	invariants.Fault(t, "T3")
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 20000) g"); err != nil {
		t.Fatal(err)
	}
	// Two earlier snapshots, copied into a fresh directory for each crash point.
	seed := filepath.Join(t.TempDir(), "seed")
	for i := range 2 {
		if i > 0 {
			waitNextSecond()
		}
		if r := runPgsnap(t, map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": seed}, "snapshot"); r.code != 0 {
			t.Fatalf("seed snapshot: exit %d", r.code)
		}
	}
	seeded := snapshotFiles(t, seed)
	slices.Sort(seeded)
	waitNextSecond() // every crashed run is named after a later second than the seeds

	points := []struct {
		name, failpoint string
		retention       string
		newListed       bool // the crashed run's snapshot is listed: its manifest was renamed
	}{
		{"before the data temp fsync", "commit-before-fsync.zst", "", false},
		{"after the data fsync, before its rename", "commit-before-rename.zst", "", false},
		{"after the data rename, before the dir fsync", "commit-before-dir-fsync.zst", "", false},
		{"after the data commit, before the manifest", "before-manifest", "", false},
		{"after the manifest rename, before the dir fsync", "commit-before-dir-fsync.json", "", true},
		// Retention 2 over three snapshots deletes the oldest: killed after its manifest went.
		{"in the middle of a retention delete", "prune-after-manifest-delete", "2", true},
	}
	consistent, swept, listedPartials := 0, 0, 0
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "snapshots")
			copyDir(t, seed, dir)
			env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir}
			if p.retention != "" {
				env["SNAPSHOT_RETENTION"] = p.retention
			}
			before := invariants.Snapshot(t, dir)
			crashAt(t, env, p.failpoint+":kill") // in a later second than the seeds: see below

			// The listing, and the disk: what is listed is what has a manifest, and whole.
			listed := snapNames(listJSON(t, env))
			slices.Sort(listed)
			onDisk := snapshotFiles(t, dir)
			slices.Sort(onDisk)
			if !slices.Equal(listed, onDisk) {
				t.Errorf("list shows %v, manifests on disk %v", listed, onDisk)
			}
			var deleted []string
			if p.retention != "" {
				deleted = filesOf(before, seeded[0]) // the oldest, being deleted
			}
			whole := invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, Deleted: deleted,
				AllowOrphans: true, AllowTemps: true, Cluster: c, Database: db})
			if len(whole) != len(listed) {
				listedPartials += len(listed) - len(whole)
			}
			want := slices.Clone(seeded)
			if p.retention != "" {
				want = want[1:]
			}
			if got := newNames(listed, seeded); p.newListed != (len(got) == 1) || len(got) > 1 || !containsAll(listed, want) {
				t.Errorf("after the crash list shows %v; want %v plus the new snapshot: %t", listed, want, p.newListed)
			}

			if !t.Failed() {
				consistent++
			}

			// The restart: a normal run sweeps and commits.
			waitNextSecond()
			if r := runPgsnap(t, env, "snapshot"); r.code != 0 {
				t.Fatalf("restart: exit %d", r.code)
			}
			if left := findStrays(t, dir); !left.none() {
				t.Errorf("after the restart: %v %v %v %v", left, left.temps, left.intents, left.orphans)
			} else {
				swept++
			}
			keep := len(listed) + 1
			if p.retention != "" {
				keep = 2
			}
			invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, Database: db, MinComplete: keep})
		})
	}
	invariants.Report(t, "T3 crash points %d/%d consistent, listed partials %d, swept clean by the restart %d/%d",
		consistent, len(points), listedPartials, swept, len(points))
}

// lockTable holds an ACCESS EXCLUSIVE lock on table in db until the returned func is called.
func lockTable(t *testing.T, c *pgtest.Cluster, db, table string) func() {
	t.Helper()
	conn, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(t.Context())
	if err == nil {
		_, err = tx.Exec(t.Context(), "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE")
	}
	if err != nil {
		conn.Close(context.Background())
		t.Fatal(err)
	}
	return func() {
		tx.Rollback(context.Background())
		conn.Close(context.Background())
	}
}

// copyDir copies the regular files of from into a new directory to (0700, files 0600).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Mkdir(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// filesOf lists the files of snapshot name among files.
func filesOf(files map[string]string, name string) []string {
	var out []string
	for f := range files {
		if strings.HasPrefix(f, name+".") {
			out = append(out, f)
		}
	}
	return out
}

func newNames(listed, old []string) []string {
	var out []string
	for _, n := range listed {
		if !slices.Contains(old, n) {
			out = append(out, n)
		}
	}
	return out
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
