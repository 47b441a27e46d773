package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range []string{"", "run", "snapshot", "list", "verify", "restore", "prune", "sync", "pin", "unpin", "status", "version"} {
		args := strings.Fields(c + " --help")
		r := runPgsnap(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("pgsnap %s --help: exit %d, stdout %q", c, r.code, r.stdout)
		}
	}
}

// connCounter is a TCP listener standing in for a database server: it only counts connection
// attempts, to prove that bad settings fail before anything connects.
func connCounter(t *testing.T) (addr string, count *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	count = &atomic.Int64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			count.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String(), count
}

// T32: every bad setting fails at start, all problems in one report, one line each naming the
// setting and the accepted form, the password masked; nothing connects, nothing is created.
func TestBadSettingsFailBeforeTouchingAnything(t *testing.T) {
	invariants.Fault(t, "T32")
	addr, conns := connCounter(t)
	dir := filepath.Join(t.TempDir(), "never-created")
	const password = "hunter2-very-secret"
	cases := []struct {
		name     string
		env      map[string]string
		settings []string // each must be named in stderr
	}{
		{"everything at once", map[string]string{
			"DATABASE_URL":       "postgres://app:" + password + "@" + addr + "/app",
			"SNAPSHOT_RETENTION": "0", "SNAPSHOT_TIME": "24:00", "SNAPSHOT_TIMEOUT": "5",
			"SNAPSHOT_ENABLED": "maybe", "SNAPSHOT_LOCK_WAIT_TIMEOUT": "forever", "SNAPSHOT_DIR": dir,
		}, []string{"SNAPSHOT_RETENTION", "SNAPSHOT_TIME", "SNAPSHOT_TIMEOUT", "SNAPSHOT_ENABLED", "SNAPSHOT_LOCK_WAIT_TIMEOUT"}},
		{"empty dir", map[string]string{"DATABASE_URL": "postgres://app:" + password + "@" + addr + "/app", "SNAPSHOT_DIR": ""}, []string{"SNAPSHOT_DIR"}},
		{"mysql url", map[string]string{"DATABASE_URL": "mysql://app:" + password + "@" + addr + "/app", "SNAPSHOT_DIR": dir}, []string{"DATABASE_URL"}},
		{"bad escape", map[string]string{"DATABASE_URL": "postgres://app:%zz" + password + "@" + addr + "/app", "SNAPSHOT_DIR": dir}, []string{"DATABASE_URL"}},
		{"port", map[string]string{"DATABASE_URL": "postgres://app:" + password + "@127.0.0.1:99999/app", "SNAPSHOT_DIR": dir}, []string{"DATABASE_URL"}},
		{"missing url", map[string]string{"SNAPSHOT_DIR": dir}, []string{"DATABASE_URL"}},
		{"retention values", map[string]string{"DATABASE_URL": "postgres://app:" + password + "@" + addr + "/app", "SNAPSHOT_RETENTION": "1e3", "SNAPSHOT_DIR": dir}, []string{"SNAPSHOT_RETENTION"}},
	}
	for _, tc := range cases {
		for _, command := range []string{"run", "snapshot"} {
			t.Run(tc.name+"/"+command, func(t *testing.T) {
				r := runPgsnap(t, tc.env, command)
				if r.code != 2 {
					t.Errorf("exit code %d, want 2 (bad settings)", r.code)
				}
				for _, s := range tc.settings {
					if !strings.Contains(r.stderr, s) {
						t.Errorf("stderr does not name %s", s)
					}
				}
				var problems int
				for _, line := range strings.Split(r.stderr, "\n") {
					if strings.Contains(line, "want ") {
						problems++
					}
				}
				if problems != len(tc.settings) {
					t.Errorf("stderr has %d lines stating an accepted form, want one per problem (%d)", problems, len(tc.settings))
				}
				if strings.Contains(r.stderr+r.stdout, password) {
					t.Errorf("the password shows in the output")
				}
			})
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections to the database on bad settings, want 0", n)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("SNAPSHOT_DIR was created on bad settings: %v", err)
	}
	invariants.Report(t, "T32 config: %d cases named their settings; DB connections on bad config %d; files touched 0", len(cases)*2, conns.Load())
}

func TestFlagsOverrideEnvAndTyposWarn(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SNAPSHOT_DIR": dir, "SNAPSHOT_RETENTION": "0", "SNAPSHOT_RETENTON": "3"}
	if r := runPgsnap(t, env, "list"); r.code != 2 || !strings.Contains(r.stderr, "SNAPSHOT_RETENTION") {
		t.Errorf("list with SNAPSHOT_RETENTION=0: exit %d, want 2 naming the setting", r.code)
	}
	r := runPgsnap(t, env, "list", "--retention", "3")
	if r.code != 0 {
		t.Errorf("--retention 3 over SNAPSHOT_RETENTION=0: exit %d, want 0", r.code)
	}
	if !strings.Contains(r.stderr, "SNAPSHOT_RETENTON") || !strings.Contains(r.stderr, "did you mean SNAPSHOT_RETENTION") {
		t.Errorf("no warning for the typo SNAPSHOT_RETENTON: %s", r.stderr)
	}
	if r := runPgsnap(t, map[string]string{"SNAPSHOT_DIR": dir}, "list", "--retention", "-1"); r.code != 2 || !strings.Contains(r.stderr, "SNAPSHOT_RETENTION") {
		t.Errorf("--retention -1: exit %d, want 2 naming SNAPSHOT_RETENTION", r.code)
	}
}

func TestRunDisabledExitsZero(t *testing.T) {
	r := runPgsnap(t, map[string]string{"SNAPSHOT_ENABLED": "false"}, "run")
	if r.code != 0 || !strings.Contains(r.stderr, "disabled") {
		t.Errorf("run with SNAPSHOT_ENABLED=false: exit %d, stderr %q; want 0 and a log line", r.code, r.stderr)
	}
}

type listed struct {
	Name          string            `json:"name"`
	Target        string            `json:"target"`
	Slot          *time.Time        `json:"slot"`
	StartedAt     time.Time         `json:"started_at"`
	FinishedAt    time.Time         `json:"finished_at"`
	Size          int64             `json:"size"`
	SHA256        string            `json:"sha256"`
	Data          string            `json:"data"`
	Format        string            `json:"format"`
	PGDumpVersion string            `json:"pg_dump_version"`
	ServerVersion string            `json:"server_version"`
	Labels        map[string]string `json:"labels"`
	StoredIn      []string          `json:"stored_in"`
	Missing       []string          `json:"missing"`
}

func listJSON(t *testing.T, env map[string]string) []listed {
	t.Helper()
	r := runPgsnap(t, env, "list", "--json")
	if r.code != 0 {
		t.Fatalf("list --json: exit %d", r.code)
	}
	var out []listed
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("list --json output: %v", err)
	}
	return out
}

// waitNextSecond waits until the wall clock's second changes, so that two manual snapshots
// get distinct names (names have one-second resolution).
func waitNextSecond() {
	s := time.Now().Truncate(time.Second)
	for time.Now().Truncate(time.Second).Equal(s) {
		time.Sleep(10 * time.Millisecond)
	}
}

// The acceptance, as a user runs it: snapshot, list --json, restore with identical rows;
// five snapshots then prune with SNAPSHOT_RETENTION=3 leave the newest three and foreign files.
func TestSnapshotListRestorePrune(t *testing.T) {
	invariants.Fault(t, "T22")
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, `CREATE TABLE items (id int PRIMARY KEY, name text, doc jsonb);
		INSERT INTO items SELECT g, 'item ' || g || ' ✓', jsonb_build_object('g', g) FROM generate_series(1, 5000) g`); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_RETENTION": "100"}

	var names []string
	for i := range 5 {
		if i > 0 {
			waitNextSecond()
		}
		r := runPgsnap(t, env, "snapshot")
		if r.code != 0 {
			t.Fatalf("snapshot: exit %d", r.code)
		}
		names = append(names, lastLine(r.stdout))
	}
	snaps := listJSON(t, env)
	dataOf := map[string]string{}
	for _, s := range snaps {
		dataOf[s.Name] = s.Data
	}
	if len(snaps) != 5 || snaps[0].Name != names[4] {
		t.Fatalf("list --json = %d snapshots, first %q; want 5, newest first (%s)", len(snaps), snaps[0].Name, names[4])
	}
	for _, s := range snaps {
		b, err := os.ReadFile(filepath.Join(dir, s.Data))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != s.SHA256 || int64(len(b)) != s.Size {
			t.Errorf("%s: stored file does not match list's sha256/size", s.Name)
		}
		if s.Target != db || s.Slot != nil || s.Format != "custom" || s.PGDumpVersion == "" || s.ServerVersion == "" || s.FinishedAt.Before(s.StartedAt) {
			t.Errorf("%s: unexpected fields %+v", s.Name, s)
		}
	}

	restored := db + "_restored"
	t.Cleanup(func() { c.DropDatabase(t.Context(), restored) })
	renv := map[string]string{"SNAPSHOT_DIR": dir, "SNAPSHOT_RESTORE_URL": c.URL(restored)}
	if r := runPgsnap(t, renv, "restore", names[2]); r.code != 0 {
		t.Fatalf("restore: exit %d", r.code)
	}
	if want, got := c.FingerprintDB(t, db), c.FingerprintDB(t, restored); fmt.Sprint(want) != fmt.Sprint(got) {
		t.Errorf("restored rows differ: source %v, restored %v", want, got)
	}
	// A non-empty target is refused without --clean.
	if r := runPgsnap(t, renv, "restore", "latest"); r.code == 0 || !strings.Contains(r.stderr, "--clean") {
		t.Errorf("restore into a non-empty database: exit %d, want a refusal mentioning --clean", r.code)
	}

	foreign := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(foreign, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := invariants.Snapshot(t, dir)
	env["SNAPSHOT_RETENTION"] = "3"
	if r := runPgsnap(t, env, "prune"); r.code != 0 {
		t.Fatalf("prune: exit %d", r.code)
	}
	snaps = listJSON(t, env)
	var kept []string
	for _, s := range snaps {
		kept = append(kept, s.Name)
	}
	if want := []string{names[4], names[3], names[2]}; fmt.Sprint(kept) != fmt.Sprint(want) {
		t.Errorf("after prune: %v, want %v", kept, want)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("foreign file: %v", err)
	}
	var deleted []string
	for _, n := range names[:2] {
		deleted = append(deleted, n+".json", dataOf[n])
	}
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, Deleted: deleted, Cluster: c, DirCreated: true})

	r := runPgsnap(t, env, "verify")
	if r.code != 0 || strings.Count(r.stdout, "ok ") != 3 {
		t.Errorf("verify: exit %d, stdout %q; want 3 ok", r.code, r.stdout)
	}
	// Bit rot: verify names the snapshot and fails; restore refuses it.
	data := filepath.Join(dir, dataOf[names[3]])
	b, _ := os.ReadFile(data)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(data, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runPgsnap(t, env, "verify"); r.code == 0 || !strings.Contains(r.stdout, names[3]) {
		t.Errorf("verify after a flipped byte: exit %d, stdout %q; want failure naming %s", r.code, r.stdout, names[3])
	}
	r = runPgsnap(t, env, "verify", "--json", names[3])
	var results []struct {
		Name   string   `json:"name"`
		OK     bool     `json:"ok"`
		Checks []string `json:"checks"`
		Error  string   `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil || r.code == 0 || len(results) != 1 ||
		results[0].OK || !strings.Contains(results[0].Error, names[3]) || !strings.Contains(results[0].Error, "sha256") {
		t.Errorf("verify --json of a damaged snapshot: exit %d, %+v (%v); want one failed result naming it and sha256", r.code, results, err)
	}
	// A drill of a good snapshot restores, compares, and leaves no scratch database.
	if r := runPgsnap(t, env, "verify", "--full", "--drill", names[4]); r.code != 0 || !strings.Contains(r.stdout, "drill") {
		t.Errorf("verify --full --drill: exit %d, stdout %q", r.code, r.stdout)
	}
	conn, err := c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	var scratch int
	conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname LIKE 'pgsnap\_%'`).Scan(&scratch)
	conn.Close(t.Context())
	if scratch != 0 {
		t.Errorf("%d pgsnap_ scratch databases left after the drill", scratch)
	}
	if l := listJSON(t, env); l[0].Name != names[4] || !strings.Contains(runPgsnap(t, env, "list").stdout, "ok ") {
		t.Errorf("list does not show the drill of %s", names[4])
	}
	other := db + "_other"
	t.Cleanup(func() { c.DropDatabase(t.Context(), other) })
	if r := runPgsnap(t, map[string]string{"SNAPSHOT_DIR": dir, "SNAPSHOT_RESTORE_URL": c.URL(other)}, "restore", names[3]); r.code == 0 || !strings.Contains(r.stderr, "corrupt") {
		t.Errorf("restore of a corrupt snapshot: exit %d, want a refusal", r.code)
	}
}

func TestVersionNamesPgDump(t *testing.T) {
	c := pgtest.Get(t)
	r := runPgsnap(t, map[string]string{"DATABASE_URL": c.URL("postgres")}, "version")
	if r.code != 0 || !strings.Contains(r.stdout, "pg_dump") || !strings.Contains(r.stdout, fmt.Sprintf("server %d.", c.Version)) {
		t.Errorf("version: exit %d, stdout %q; want the pg_dump chosen for the server", r.code, r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, c.Password) || strings.Contains(r.stdout+r.stderr, url.QueryEscape(c.Password)) {
		t.Error("version shows the password")
	}
}

// Run-once for orchestrators: three overlapping `snapshot --slot` jobs make one snapshot for
// the due slot, named after it; the others exit 0 saying it is taken.
func TestSnapshotSlotOverlappingJobs(t *testing.T) {
	invariants.Fault(t, "T29")
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 200000) g"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	slot := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_TIME": slot.Format("15:04")}
	results := make(chan result, 3)
	for range 3 {
		go func() { results <- runPgsnapQuiet(t, env, "snapshot", "--slot") }()
	}
	taken, skipped := 0, 0
	want := db + "-" + slot.Format("20060102T150405Z")
	for range 3 {
		r := <-results
		switch {
		case r.code != 0 || strings.TrimSpace(r.stdout) == "":
			t.Errorf("snapshot --slot: exit %d, stdout %q, stderr %q; want 0 and the slot's snapshot", r.code, r.stdout, r.stderr)
			continue
		case strings.Contains(r.stderr, "already taken"):
			skipped++
		default:
			taken++
		}
		// A job that found the slot taken prints the slot's snapshot too: a script reads the
		// last line either way.
		if lastLine(r.stdout) != want {
			t.Errorf("snapshot --slot printed %q, want %q", lastLine(r.stdout), want)
		}
	}
	if taken != 1 || skipped != 2 {
		t.Errorf("3 overlapping jobs: %d took the slot, %d skipped; want 1 and 2", taken, skipped)
	}
	invariants.Report(t, "T29 overlapping snapshot --slot jobs: taken %d/1, skipped %d/2", taken, skipped)
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, Database: db, DirCreated: true, MinComplete: 1})
}

// runPgsnapQuiet is runPgsnap for goroutines: it never calls t.Fatal.
func runPgsnapQuiet(t *testing.T, env map[string]string, args ...string) result {
	cmd, stdout, stderr := pgsnapCmd(t, env, args...)
	cmd.Run()                           // the exit code says how it went
	code := cmd.ProcessState.ExitCode() // -1 when it never ran
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}
