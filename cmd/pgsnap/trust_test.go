package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
	"github.com/pgsnap/pgsnap/internal/s3test"
)

// Two real processes: a prune never deletes a snapshot another process is restoring. The
// restore holds a lease on it (frozen with SIGSTOP to keep it mid-restore); prune keeps the
// snapshot, saying why, the restore then completes, and the next prune deletes it.
func TestPruneSkipsSnapshotBeingRestored(t *testing.T) {
	invariants.Fault(t, "T22")
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, `CREATE TABLE big AS SELECT g AS id, md5(g::text) AS a FROM generate_series(1, 300000) g;
		CREATE INDEX ON big (a)`); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_RETENTION": "5"}
	var names []string
	for i := range 2 {
		if i > 0 {
			waitNextSecond()
		}
		r := runPgsnap(t, env, "snapshot")
		if r.code != 0 {
			t.Fatalf("snapshot: exit %d", r.code)
		}
		names = append(names, lastLine(r.stdout))
	}
	oldest := names[0]

	target := db + "_leased"
	t.Cleanup(func() { c.DropDatabase(context.Background(), target) })
	restore, stdout, stderr := pgsnapCmd(t, env, "restore", oldest, "--target-url", c.URL(target), "--jobs", "1", "--quiet")
	if err := restore.Start(); err != nil {
		t.Fatal(err)
	}
	defer restore.Process.Kill()
	lease := waitForFile(t, dir, oldest+".lease-", 30*time.Second)
	if err := restore.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	before := invariants.Snapshot(t, dir)

	prune := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_RETENTION": "1"}
	r := runPgsnap(t, prune, "prune")
	if r.code != 0 {
		t.Fatalf("prune while a restore holds a lease: exit %d", r.code)
	}
	if !strings.Contains(r.stdout, "keep   "+oldest) || !strings.Contains(r.stdout, "in use") {
		t.Errorf("prune output does not keep %s as in use:\n%s", oldest, r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, oldest+".json")); err != nil {
		t.Fatalf("the leased snapshot's manifest is gone: %v", err)
	}

	if err := restore.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if code, _ := waitExit(t, restore, time.Now(), 2*time.Minute); code != 0 {
		t.Fatalf("restore after the prune: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, lease)); !os.IsNotExist(err) {
		t.Errorf("lease %s still there after the restore: %v", lease, err)
	}
	if diff := fingerprintDiff(c.FingerprintDB(t, db), c.FingerprintDB(t, target)); diff != "" {
		t.Errorf("the restore that raced the prune differs from the source: %s", diff)
	}
	// Released: the next prune deletes it.
	r = runPgsnap(t, prune, "prune")
	if r.code != 0 || !strings.Contains(r.stdout, "delete "+oldest) {
		t.Errorf("prune after the restore: exit %d, want %s deleted:\n%s", r.code, oldest, r.stdout)
	}
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, Deleted: []string{oldest + ".json", oldest + ".dump.zst", lease}, Cluster: c, Database: db})
	invariants.Report(t, "T22 prune while another process restores the oldest snapshot: kept (in use), restore ok 1/1, deleted by the next prune")
}

// Repro of the trust review: a file that merely looks like a snapshot's data, without manifest
// and without an intent record, is never touched, however old, by prune or by the next snapshot.
func TestLookAlikeFileIsNeverTouched(t *testing.T) {
	invariants.Fault(t, "T22")
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT generate_series(1, 100) AS g"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_TARGET": "app", "SNAPSHOT_RETENTION": "1"}
	lookAlike := filepath.Join(dir, "app-20190101T000000Z.dump.zst")
	if err := os.WriteFile(lookAlike, []byte("the user's own file"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(lookAlike, old, old); err != nil {
		t.Fatal(err)
	}
	before := invariants.Snapshot(t, dir)
	for _, args := range [][]string{{"prune"}, {"snapshot"}, {"prune"}} {
		if r := runPgsnap(t, env, args...); r.code != 0 {
			t.Fatalf("%v: exit %d", args, r.code)
		} else if strings.Contains(r.stderr, "app-20190101T000000Z") {
			t.Errorf("%v mentions the look-alike file:\n%s", args, r.stderr)
		}
	}
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, AllowOrphans: true, Cluster: c, Database: db})
	invariants.Report(t, "T22 look-alike data file without manifest or intent, 2 h old: untouched by prune, snapshot, prune")
}

// Repro of the trust review: drills as a role without superuser on a server whose autovacuum is
// busy used to leave pgsnap_drill_* databases behind (DROP ... WITH (FORCE) may not end
// autovacuum's session) while exiting 0. Now every drill drops its database or fails.
func TestDrillsAsNonSuperuserLeaveNothing(t *testing.T) {
	invariants.Fault(t, "T18")
	c := pgtest.StartOwn(t)
	for _, sql := range []string{
		"ALTER SYSTEM SET autovacuum_naptime = 1",
		"ALTER SYSTEM SET autovacuum_vacuum_threshold = 1",
		"ALTER SYSTEM SET autovacuum_analyze_threshold = 1",
		"SELECT pg_reload_conf()",
		"CREATE ROLE driller LOGIN CREATEDB PASSWORD 'drill-pw-7'",
		"CREATE DATABASE drilled OWNER driller",
	} {
		if err := c.Exec(t.Context(), "postgres", sql); err != nil {
			t.Fatal(err)
		}
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword("driller", "drill-pw-7"), Host: c.Addr(), Path: "/drilled", RawQuery: "sslmode=disable"}
	conn, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if _, err := conn.Exec(t.Context(), fmt.Sprintf("CREATE TABLE t%d AS SELECT g, md5(g::text) AS h FROM generate_series(1, 40000) g", i)); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(context.Background())
	dir := filepath.Join(t.TempDir(), "snapshots")
	env := map[string]string{"DATABASE_URL": u.String(), "SNAPSHOT_DIR": dir}
	if r := runPgsnap(t, env, "snapshot"); r.code != 0 {
		t.Fatalf("snapshot: exit %d", r.code)
	}
	const drills = 4
	for i := range drills {
		if r := runPgsnap(t, env, "verify", "--drill", "--quiet"); r.code != 0 {
			t.Fatalf("drill %d: exit %d", i+1, r.code)
		}
		if left := scratchLeft(t, c); len(left) > 0 {
			t.Fatalf("drill %d exited 0 and left %v", i+1, left)
		}
	}
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c})
	invariants.Report(t, "T18 drills by a role without superuser, autovacuum every second: %d/%d passed, scratch databases left 0", drills, drills)
}

// SNAPSHOT_TIMEOUT bounds the whole attempt, the upload too: an S3 part that never completes
// ends with the timeout, nothing listed and the upload aborted, instead of holding the attempt.
func TestStalledS3PartEndsAtTimeout(t *testing.T) {
	invariants.Fault(t, "T33")
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	proxy := s3test.NewProxy(t, srv.Endpoint)
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g, md5(g::text) AS h FROM generate_series(1, 50000) g"); err != nil {
		t.Fatal(err)
	}
	env := s3Env(srv, bucket, "stall")
	env["SNAPSHOT_S3_ENDPOINT"] = proxy.Endpoint
	env["DATABASE_URL"] = c.URL(db)
	env["SNAPSHOT_TIMEOUT"] = "6s"
	// Only the data object's upload stalls (a part, or the single PUT of a small object); the
	// probe, intent and manifest requests pass.
	dataUpload := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, ".dump.zst")
	}
	proxy.Stall(-1, dataUpload)
	start := time.Now()
	cmd, stdout, stderr := pgsnapCmd(t, env, "snapshot")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code, took := waitExit(t, cmd, start, 40*time.Second)
	r := result{stdout: stdout.String(), stderr: stderr.String(), code: code}
	t.Logf("stderr: %s", r.stderr)
	if r.code == 0 || !strings.Contains(r.stderr, "SNAPSHOT_TIMEOUT") {
		t.Errorf("snapshot with a stalled upload: exit %d, want a failure naming SNAPSHOT_TIMEOUT:\n%s", r.code, r.stderr)
	}
	if took > 6*time.Second+invariants.ShutdownLimit+5*time.Second {
		t.Errorf("snapshot with a stalled upload took %v, the timeout is 6s", took)
	}
	proxy.Clear()
	if snaps := listJSON(t, env); len(snaps) != 0 {
		t.Errorf("listed after the stalled upload: %v", snapNames(snaps))
	}
	invariants.AssertNoSessions(t, c, db)
	invariants.Report(t, "T33 stalled S3 part: attempt ended after %.1f s (SNAPSHOT_TIMEOUT 6 s), listed 0", took.Seconds())
}

// waitForFile waits for a file in dir whose name starts with prefix and returns its name.
func waitForFile(t *testing.T, dir, prefix string, limit time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) {
				return e.Name()
			}
		}
	}
	t.Fatalf("no file %s* in %s within %v", prefix, dir, limit)
	return ""
}

// scratchLeft lists the restore and drill scratch databases on c.
func scratchLeft(t *testing.T, c *pgtest.Cluster) []string {
	t.Helper()
	conn, err := c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT datname FROM pg_database WHERE datname LIKE 'pgsnap\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func fingerprintDiff(want, got map[string]string) string {
	var b bytes.Buffer
	for k, v := range want {
		if got[k] != v {
			fmt.Fprintf(&b, "%s differs; ", k)
		}
	}
	if len(got) != len(want) {
		fmt.Fprintf(&b, "%d relations, want %d", len(got), len(want))
	}
	return b.String()
}
