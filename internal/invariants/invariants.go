// Package invariants checks the store invariants of RELIABILITY.md after a test, especially after
// a fault: what is listed is whole, what was committed before is unchanged, nothing temporary or
// secret is left behind, files are private, and no child process or database session outlives
// the operation.
package invariants

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// Options says what a test expects beyond the invariants every test shares.
type Options struct {
	// Before maps committed file names to their SHA-256 before the fault (see Snapshot). Every
	// one must be unchanged afterwards, unless listed in Deleted (INV-2).
	Before  map[string]string
	Deleted []string
	// Cluster, when set, is checked for leftover pgsnap sessions (INV-3), on Database only
	// when that is set (tests running side by side each check their own).
	Cluster  *pgtest.Cluster
	Database string
	// Secrets must not appear in any file under the store or TempDir (INV-6).
	Secrets []string
	// TempDir is the TMPDIR the operation ran with; give each such test its own.
	TempDir string
	// DirCreated says pgsnap created the store directory, which must then be 0700 (INV-9).
	DirCreated bool
	// AllowOrphans accepts data objects without manifest and intent records (a crash between
	// the commits, before the next run swept them).
	AllowOrphans bool
	// AllowTemps accepts temporary files (a crash mid-write, before the next run swept them):
	// tests that look at the store between a crash and the restart.
	AllowTemps bool
	// AllowLeases accepts readers' leases (a reader killed before it released its lease).
	AllowLeases bool
	// MinComplete is how many complete snapshots must remain (INV-5: failures and retention
	// never shrink the good set below min(N, good before)).
	MinComplete int
	// Failure, when set, is the error the faulted operation returned; it must be non-nil and
	// name every one of FailureMentions (INV-4: a failure is a failure and says why).
	Failure         error
	FailureMentions []string
	// Shutdown, when set, is how long the operation took to end after its signal or cancel
	// (INV-10: at most ShutdownLimit).
	Shutdown time.Duration
}

// ShutdownLimit is INV-10's bound from SIGTERM or cancel to return.
const ShutdownLimit = 5 * time.Second

var snapshotFile = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*-[0-9]{8}T[0-9]{6}Z)\.(json|dump|dump\.zst|dump\.age|dump\.zst\.age|drill\.json)$`)

// sessionGrace is how long a database session may outlive the operation (INV-3).
const sessionGrace = 2 * time.Second

// Snapshot returns the SHA-256 of every regular file in dir, for Options.Before.
func Snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			out[e.Name()] = fileSHA(t, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// AssertStoreInvariants checks the invariants of RELIABILITY.md on a local store directory and
// reports each violation with t.Errorf: INV-1 (listed iff manifest, data whole), INV-2 (earlier
// snapshots unchanged), INV-3 (no child process or session left), INV-4 (the failure was
// reported and names its cause, when Failure is given), INV-5 (at least MinComplete left),
// INV-6 (no secret in any file), INV-7 (no temporary file left), INV-8 (one snapshot per slot),
// INV-9 (private modes) and INV-10 (Shutdown within the limit, when given). It returns the
// names of the complete snapshots it found.
func AssertStoreInvariants(t testing.TB, dir string, opts Options) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		entries = nil
	} else if err != nil {
		t.Fatalf("INV: read %s: %v", dir, err)
	}
	manifests := map[string]bool{}
	dataFiles := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".pgsnap-tmp.") {
			if !opts.AllowTemps {
				t.Errorf("INV-7: temporary file %s left in %s", name, dir)
			}
			continue
		}
		m := snapshotFile.FindStringSubmatch(name)
		if m == nil {
			continue // not pgsnap's
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("INV-9: %s has mode %o, want 600", name, perm)
		}
		switch m[2] {
		case "json":
			manifests[m[1]] = true
		case "dump", "dump.zst", "dump.age", "dump.zst.age":
			dataFiles[name] = true
		}
	}
	var complete []string
	named := map[string]bool{}
	perSlot := map[string][]string{}
	for name := range manifests {
		var man struct {
			Name   string  `json:"name"`
			Target string  `json:"target"`
			Slot   *string `json:"slot"`
			Data   string  `json:"data"`
			Size   int64   `json:"size"`
			SHA256 string  `json:"sha256"`
		}
		b, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil || json.Unmarshal(b, &man) != nil {
			t.Errorf("INV-1: manifest %s.json unreadable: %v", name, err)
			continue
		}
		named[man.Data] = true
		if man.Slot != nil {
			key := man.Target + " " + *man.Slot
			perSlot[key] = append(perSlot[key], name)
		}
		path := filepath.Join(dir, man.Data)
		st, err := os.Stat(path)
		if err != nil {
			t.Errorf("INV-1: snapshot %s lists data %s: %v", name, man.Data, err)
			continue
		}
		if st.Size() != man.Size {
			t.Errorf("INV-1: snapshot %s data is %d bytes, manifest says %d", name, st.Size(), man.Size)
		}
		if got := fileSHA(t, path); got != man.SHA256 {
			t.Errorf("INV-1: snapshot %s data sha256 %s, manifest says %s", name, got, man.SHA256)
		}
		complete = append(complete, name)
	}
	for slot, names := range perSlot {
		if len(names) > 1 {
			t.Errorf("INV-8: slot %s has %d snapshots: %v", slot, len(names), names)
		}
	}
	if len(complete) < opts.MinComplete {
		t.Errorf("INV-5: %d complete snapshots left, want at least %d", len(complete), opts.MinComplete)
	}
	if opts.Failure != nil || len(opts.FailureMentions) > 0 {
		if opts.Failure == nil {
			t.Errorf("INV-4: the fault was not reported as a failure")
		} else {
			for _, m := range opts.FailureMentions {
				if !strings.Contains(opts.Failure.Error(), m) {
					t.Errorf("INV-4: error %q does not name %q", opts.Failure, m)
				}
			}
		}
	}
	if opts.Shutdown > ShutdownLimit {
		t.Errorf("INV-10: took %v to stop, limit %v", opts.Shutdown, ShutdownLimit)
	}
	if !opts.AllowOrphans {
		for f := range dataFiles {
			if !named[f] {
				t.Errorf("INV-1: data object %s has no manifest", f)
			}
		}
	}
	if !opts.AllowOrphans {
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".intent") {
				t.Errorf("INV-7: intent record %s left in %s", e.Name(), dir)
			}
		}
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".lease-") && !opts.AllowLeases {
			t.Errorf("INV-7: lease %s left in %s", e.Name(), dir)
		}
	}
	deleted := map[string]bool{}
	for _, d := range opts.Deleted {
		deleted[d] = true
	}
	for f, sum := range opts.Before {
		if deleted[f] {
			continue
		}
		path := filepath.Join(dir, f)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("INV-2: %s existed before and is gone: %v", f, err)
			continue
		}
		if got := fileSHA(t, path); got != sum {
			t.Errorf("INV-2: %s changed (sha256 %s, was %s)", f, got, sum)
		}
	}
	if opts.DirCreated {
		if st, err := os.Stat(dir); err == nil && st.Mode().Perm() != 0o700 {
			t.Errorf("INV-9: directory %s has mode %o, want 700", dir, st.Mode().Perm())
		}
	}
	if len(opts.Secrets) > 0 {
		assertNoSecrets(t, opts.Secrets, dir, opts.TempDir)
	}
	assertNoChildren(t)
	if opts.Cluster != nil {
		AssertNoSessions(t, opts.Cluster, opts.Database)
	}
	return complete
}

// AssertNoSessions fails when a session named pgsnap is still connected to db (any database when
// db is "") after sessionGrace.
func AssertNoSessions(t testing.TB, c *pgtest.Cluster, db string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(sessionGrace)
	for {
		var n int
		conn, err := c.Connect(ctx, "postgres")
		if err != nil {
			t.Errorf("INV-3: connect: %v", err)
			return
		}
		err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name LIKE 'pgsnap%' AND ($1 = '' OR datname = $1)`, db).Scan(&n)
		conn.Close(ctx)
		if err != nil {
			t.Errorf("INV-3: query: %v", err)
			return
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("INV-3: %d pgsnap sessions still connected %v after the operation", n, sessionGrace)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertNoChildren fails when a pg_dump or pg_restore process is still a child of this test
// process after the operation ended (INV-3). Tests of the pgsnap binary check for orphaned
// pg_dump processes themselves, since those are re-parented.
func assertNoChildren(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(sessionGrace)
	for {
		kids := ChildProcesses(os.Getpid())
		if len(kids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("INV-3: child processes left: %v", kids)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ChildProcesses lists "pid:comm" of the PostgreSQL client tools whose parent is ppid and which
// are not yet reaped.
func ChildProcesses(ppid int) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		comm := s[open+1 : close]
		fields := strings.Fields(s[close+1:])
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		if pp, _ := strconv.Atoi(fields[1]); pp != ppid {
			continue
		}
		switch comm {
		case "pg_dump", "pg_restore", "pg_dumpall":
			out = append(out, strings.TrimSpace(s[:open])+":"+comm)
		}
	}
	return out
}

func assertNoSecrets(t testing.TB, secrets []string, roots ...string) {
	t.Helper()
	for _, root := range roots {
		if root == "" {
			continue
		}
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				// Cluster data directories hold only password hashes; build caches are ours.
				if path != root && (strings.HasPrefix(d.Name(), "pgtest-") || strings.HasPrefix(d.Name(), "go-build")) {
					return fs.SkipDir
				}
				return nil
			}
			info, err := d.Info()
			if err != nil || !info.Mode().IsRegular() || info.Size() > 64<<20 {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			for _, s := range secrets {
				if s != "" && bytes.Contains(b, []byte(s)) {
					t.Errorf("INV-6: a secret appears in %s", path)
				}
			}
			return nil
		})
	}
}

func fileSHA(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// WaitForTemp waits until a temporary snapshot file in dir holds at least n bytes, and reports
// whether one did within limit (failing the test when not). Fault tests use it to strike while
// a dump is being written.
func WaitForTemp(t testing.TB, dir string, n int64, limit time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		matches, _ := filepath.Glob(filepath.Join(dir, ".pgsnap-tmp.*"))
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.Size() >= n {
				return true
			}
		}
	}
	t.Errorf("no temporary file of %d bytes appeared in %s within %v", n, dir, limit)
	return false
}

// Fault registers the running test under fault IDs of the reliability plan (T1 to T38,
// docs/reliability.md) before it does anything. When PGSNAP_FAULT_LOG names a file, the test's
// outcome under each ID (survived, FAILED or SKIPPED) is appended there once it ends, so a fault
// test that fails or skips still counts in the scoreboard `make test` prints.
func Fault(t testing.TB, ids ...string) {
	t.Helper()
	path := os.Getenv("PGSNAP_FAULT_LOG")
	if path == "" {
		return
	}
	t.Cleanup(func() {
		outcome := "survived"
		switch {
		case t.Failed():
			outcome = "FAILED"
		case t.Skipped():
			outcome = "SKIPPED"
		}
		appendLog(t, path, func(f *os.File) {
			for _, id := range ids {
				fmt.Fprintf(f, "%s %s %s\n", outcome, id, t.Name())
			}
		})
	})
}

// RequireRoot skips a test that needs root (mounts, other users' files) when not root, and
// fails it instead with CI=true: CI runs every fault test.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal("this fault test needs root, and CI=true runs every fault test: run it as root")
	}
	t.Skip("needs root")
}

// Report prints a fault test's figure line ("FAULT T9a lock-wait: ...") and, when
// PGSNAP_FAULT_LOG names a file, appends it there, for the scoreboard that go test hides for
// passing packages.
func Report(t testing.TB, format string, args ...any) {
	t.Helper()
	line := "FAULT " + strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " | ")
	fmt.Println(line)
	if path := os.Getenv("PGSNAP_FAULT_LOG"); path != "" {
		appendLog(t, path, func(f *os.File) { fmt.Fprintf(f, "figure %s (%s)\n", strings.TrimPrefix(line, "FAULT "), t.Name()) })
	}
}

func appendLog(t testing.TB, path string, write func(*os.File)) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("fault log: %v", err)
		return
	}
	defer f.Close()
	write(f)
}
