package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// pgsnapBin is the pgsnap binary built once for this package's tests, in a directory every user
// can read (T15 runs it as nobody).
var pgsnapBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "pgsnap-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := os.Chmod(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		pgsnapBin = filepath.Join(dir, "pgsnap")
		build := exec.Command("go", "build", "-o", pgsnapBin, ".")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build pgsnap: %v\n", err)
			return 1
		}
		return pgtest.Run(m)
	}())
}

type result struct {
	stdout, stderr string
	code           int
}

// baseEnv is the environment every pgsnap run gets: no SNAPSHOT_* or DATABASE_URL of the
// developer's own leaks in.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func envList(m map[string]string) []string {
	env := baseEnv()
	if _, ok := m["SNAPSHOT_HTTP_ADDR"]; !ok {
		// Daemons of parallel tests must not share the default port.
		env = append(env, "SNAPSHOT_HTTP_ADDR=127.0.0.1:0")
	}
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	return env
}

// pgsnapCmd prepares a pgsnap run with exactly env (plus baseEnv).
func pgsnapCmd(t *testing.T, env map[string]string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(pgsnapBin, args...)
	cmd.Env = envList(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// runPgsnap runs pgsnap to the end (at most two minutes).
func runPgsnap(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	cmd, stdout, stderr := pgsnapCmd(t, env, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("pgsnap %v did not finish", args)
	}
	r := result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	t.Logf("pgsnap %s -> exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// waitExit waits for a started command and returns its exit code and how long it took after
// since.
func waitExit(t *testing.T, cmd *exec.Cmd, since time.Time, limit time.Duration) (int, time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode(), time.Since(since)
	case <-time.After(limit):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Errorf("pgsnap did not exit within %v of the signal", limit)
		return -1, time.Since(since)
	}
}

// stillRunning lists pg_dump processes whose command line names db (any parent: an orphaned
// child is re-parented).
func stillRunning(db string) []string {
	var out []string
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 0 && filepath.Base(args[0]) == "pg_dump" && strings.Contains(string(b), db) {
			out = append(out, p)
		}
	}
	return out
}

func assertNoPgDump(t *testing.T, db string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := stillRunning(db)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("INV-3: pg_dump still running: %v", left)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
