package dump

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Main(m)
}

// env is what a test needs to run pg_dump and pg_restore against the package cluster.
type env struct {
	c         *pgtest.Cluster
	server    Version
	pgDump    Binary
	pgRestore Binary
}

func newEnv(t *testing.T) env {
	t.Helper()
	c := pgtest.Get(t)
	ctx := t.Context()
	server, err := ServerVersion(ctx, mustParse(t, c.URL("postgres")))
	if err != nil {
		t.Fatalf("ServerVersion: %v", err)
	}
	// The cluster's own bin directory holds client tools of the server's version.
	pgDump, err := Find(ctx, "pg_dump", server, c.BinDir)
	if err != nil {
		t.Fatalf("Find(pg_dump): %v", err)
	}
	pgRestore, err := Find(ctx, "pg_restore", server, c.BinDir)
	if err != nil {
		t.Fatalf("Find(pg_restore): %v", err)
	}
	return env{c: c, server: server, pgDump: pgDump, pgRestore: pgRestore}
}

func mustParse(t testing.TB, s string) conninfo.Info {
	t.Helper()
	i, err := conninfo.Parse(s)
	if err != nil {
		t.Fatalf("conninfo.Parse: %v", err)
	}
	return i
}

// fill creates table payload with rows rows of about 70 bytes each in db.
func (e env) fill(t *testing.T, db string, rows int) {
	t.Helper()
	err := e.c.Exec(t.Context(), db, `CREATE TABLE payload (id int PRIMARY KEY, body text NOT NULL);
		INSERT INTO payload SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, `+strconv.Itoa(rows)+`) g`)
	if err != nil {
		t.Fatal(err)
	}
}

// dumpOpts returns options for dumping db as the superuser, uncompressed (-Z0) so that the
// output size follows the data.
func (e env) dumpOpts(t *testing.T, conn string) DumpOptions {
	t.Helper()
	return DumpOptions{
		Conn:   mustParse(t, conn),
		Binary: e.pgDump,
		Server: e.server,
		Args:   []string{"-Z0"},
	}
}

// throttledURL is the superuser URL of db through a proxy sending about bytesPerSecond.
func (e env) throttledURL(t *testing.T, db string, bytesPerSecond int) string {
	t.Helper()
	addr := pgtest.Throttle(t, e.c.Addr(), bytesPerSecond)
	return strings.Replace(e.c.URL(db), e.c.Addr(), addr, 1)
}

// proc is one line of /proc/<pid>/stat.
type proc struct {
	pid, ppid, pgrp int
	comm            string
	state           byte
}

func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return proc{}, false
	}
	// comm is in parentheses and may itself hold spaces or parentheses.
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return proc{}, false
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 3 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	return proc{pid: pid, ppid: ppid, pgrp: pgrp, comm: string(b[open+1 : end]), state: f[0][0]}, true
}

// allPIDs lists the processes in /proc.
func allPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ourChildren returns the live children of this test process named comm whose command line
// contains marker (a database name, so parallel tests do not see each other's).
func ourChildren(comm, marker string) []int {
	var out []int
	for _, pid := range allPIDs() {
		p, ok := readProc(pid)
		if !ok || p.ppid != os.Getpid() || p.comm != comm || p.state == 'Z' {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(cmdline, []byte(marker)) {
			out = append(out, pid)
		}
	}
	return out
}

// groupMembers returns the live (not zombie) processes of process group pgid.
func groupMembers(pgid int) []int {
	var out []int
	for _, pid := range allPIDs() {
		if p, ok := readProc(pid); ok && p.pgrp == pgid && p.state != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForChild waits until a pg_dump child for db exists and returns its pid.
func waitForChild(t *testing.T, comm, db string) int {
	t.Helper()
	var pid int
	waitFor(t, 10*time.Second, comm+" to start", func() bool {
		if pids := ourChildren(comm, db); len(pids) > 0 {
			pid = pids[0]
			return true
		}
		return false
	})
	return pid
}

// waitForCopy waits until pg_dump's session in db is running its COPY, i.e. mid-dump.
func (e env) waitForCopy(t *testing.T, db string) {
	t.Helper()
	conn, err := e.c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	waitFor(t, 10*time.Second, "pg_dump's COPY", func() bool {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND application_name = 'pgsnap' AND query LIKE 'COPY %'`, db).Scan(&n)
		return err == nil && n > 0
	})
}

// waitSessionsGone checks INV-3: no session named pgsnap is left in db.
func (e env) waitSessionsGone(t *testing.T, db string) {
	t.Helper()
	conn, err := e.c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	waitFor(t, 5*time.Second, "pgsnap's sessions to end", func() bool {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = $1 AND application_name = 'pgsnap'`, db).Scan(&n)
		return err == nil && n == 0
	})
}
