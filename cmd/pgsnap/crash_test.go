package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// Helpers of the crash tests (T2, T3, T4): what a crash leaves in a store directory, and when a
// running pgsnap is where a test wants to strike.

// dataSuffixes end the names of a database snapshot's data objects.
var dataSuffixes = []string{".dump", ".dump.zst", ".dump.age", ".dump.zst.age"}

// strays is what crashed writers left in a store directory: temporary files, intent records,
// and data objects without a manifest.
type strays struct {
	temps, intents, orphans []string
}

func (s strays) String() string {
	return "temporary files " + strconv.Itoa(len(s.temps)) + ", intent records " + strconv.Itoa(len(s.intents)) +
		", data objects without manifest " + strconv.Itoa(len(s.orphans))
}

func (s strays) none() bool { return len(s.temps)+len(s.intents)+len(s.orphans) == 0 }

// findStrays lists what crashed writers left in dir.
func findStrays(t *testing.T, dir string) strays {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	var s strays
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, ".pgsnap-tmp."):
			s.temps = append(s.temps, name)
		case strings.HasSuffix(name, ".intent"):
			s.intents = append(s.intents, name)
		default:
			for _, suf := range dataSuffixes {
				if base, ok := strings.CutSuffix(name, suf); ok && !have[base+".json"] {
					s.orphans = append(s.orphans, name)
					break
				}
			}
		}
	}
	return s
}

// crashDB makes a database that dumps in a fraction of a second directly and in about three
// through the throttled URL it returns: time enough to strike mid-copy, little to wait for
// otherwise.
func crashDB(t *testing.T, c *pgtest.Cluster) (db, slowURL string) {
	t.Helper()
	db = c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 20000) g"); err != nil {
		t.Fatal(err)
	}
	slow := pgtest.Throttle(t, c.Addr(), 512<<10)
	return db, strings.Replace(c.URL(db), c.Addr(), slow, 1)
}

// waitDumping waits until pg_dump's session on db is copying table data (mid-dump, past the
// catalog reads), and reports whether it was, within limit and while process pid lived.
func waitDumping(t *testing.T, c *pgtest.Cluster, db string, pid int, limit time.Duration) bool {
	t.Helper()
	return waitSession(t, c, db, pid, "query LIKE 'COPY %'", "copy data", limit)
}

// waitSession waits until pg_dump's session on db matches cond (SQL on pg_stat_activity), and
// reports whether it did, within limit and while process pid lived.
func waitSession(t *testing.T, c *pgtest.Cluster, db string, pid int, cond, what string, limit time.Duration) bool {
	t.Helper()
	conn, err := c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'pgsnap' AND datname = $1 AND `+cond, db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return true
		}
		if !alive(pid) {
			t.Errorf("pgsnap (pid %d) ended before pg_dump began to %s from %s", pid, what, db)
			return false
		}
	}
	t.Errorf("pg_dump did not begin to %s from %s within %v", what, db, limit)
	return false
}

// alive reports whether process pid exists and has not exited (a zombie has).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// waitChild waits until process ppid has a child pg_dump and returns its pid (0 after limit).
func waitChild(ppid int, limit time.Duration) int {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, k := range invariants.ChildProcesses(ppid) {
			if pid, comm, _ := strings.Cut(k, ":"); comm == "pg_dump" {
				n, _ := strconv.Atoi(pid)
				return n
			}
		}
	}
	return 0
}

// killed reports whether a finished command died of SIGKILL.
func killed(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// snapshotFiles lists the names of the manifests in dir: the snapshots that exist (INV-1).
func snapshotFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range m {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		if !strings.HasSuffix(name, ".check") && !strings.HasSuffix(name, ".drill") {
			out = append(out, name)
		}
	}
	return out
}

// T2 (b): pg_dump itself killed by SIGKILL mid-dump (what the OOM killer does). `pgsnap snapshot`
// fails naming pg_dump, the signal and the tail of pg_dump's standard error; nothing is
// committed or left behind. pg_dump prints nothing of its own when killed, so the server sends
// it DEBUG messages (client_min_messages in the URL's options), which it prints to standard
// error: the tail the error must carry. (The retry on schedule is TestPgDumpKilledThenRetried
// in the root package, with a short backoff.)
func TestSnapshotPgDumpKilled(t *testing.T) {
	invariants.Fault(t, "T2")
	c := pgtest.Get(t)
	db, slowURL := crashDB(t, c)
	dir := filepath.Join(t.TempDir(), "snapshots")
	env := map[string]string{"DATABASE_URL": slowURL + "&options=-c%20client_min_messages%3Ddebug5", "SNAPSHOT_DIR": dir}
	cmd, _, stderr := pgsnapCmd(t, env, "snapshot")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitDumping(t, c, db, cmd.Process.Pid, time.Minute)
	child := waitChild(cmd.Process.Pid, time.Second)
	if child == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("no pg_dump child of pgsnap to kill")
	}
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	code, _ := waitExit(t, cmd, time.Now(), shutdownLimit)
	out := stderr.String()
	reported := code != 0 && strings.Contains(out, "pg_dump killed by signal 9 (killed): ") && strings.Contains(out, "DEBUG:")
	if !reported {
		t.Errorf("snapshot with pg_dump killed: exit %d, stderr:\n%s\nwant non-zero and \"pg_dump killed by signal 9 (killed): \" with pg_dump's stderr tail", code, out)
	}
	if strings.Contains(out, c.Password) {
		t.Error("stderr shows the password")
	}
	assertNoPgDump(t, db)
	names := invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, Database: db, DirCreated: true})
	falseSuccess := len(names)
	if code == 0 {
		falseSuccess++
	}
	if len(names) != 0 {
		t.Errorf("listed %v after pg_dump was killed", names)
	}
	invariants.Report(t, "T2 pg_dump kill -9: reported as failure %d/1 (exit %d), false successes %d", btoi(reported), code, falseSuccess)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
