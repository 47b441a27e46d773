package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errPortInUse marks a start that failed because another process holds the port.
var errPortInUse = errors.New("port in use")

// logTailLines is how much of the server log a start error carries.
const logTailLines = 30

// startServer runs pg_ctl start. Callers hold c.mu or own c exclusively.
func (c *Cluster) startServer(ctx context.Context) error {
	// Only the log written by this attempt can tell why this attempt failed.
	var offset int64
	if fi, err := os.Stat(c.logFile); err == nil {
		offset = fi.Size()
	}
	err := c.run(ctx, "pg_ctl", "start", "-D", c.DataDir, "-l", c.logFile, "-w", "-t", "60")
	if err == nil {
		c.running = true
		return nil
	}
	if strings.Contains(readFrom(c.logFile, offset), "Address already in use") {
		err = fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return fmt.Errorf("%w\nserver log tail (%s):\n%s", err, c.logFile, logTail(c.logFile, logTailLines))
}

// run runs one of the server binaries as the server user. Its output is part of the error.
func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, name), args...)
	cmd.Dir = c.baseDir // the server user may not be able to enter our working directory
	cmd.Env = libEnv(childEnv(), c.libDir)
	cmd.SysProcAttr = c.owner.sysProcAttr()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// pg_ctl's postmaster writes to the log file, not to our pipe; this only bounds the wait
	// if some build of it kept the pipe open.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// childEnv is our environment without PG* variables, which would point the tools elsewhere.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// readFrom returns the file's content from offset on, at most 64 KiB of it, "" on error.
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(io.NewSectionReader(f, offset, 1<<40), 64<<10))
	return string(b)
}

// logTail returns the last n lines of the log file.
func logTail(path string, n int) string {
	var offset int64
	if fi, err := os.Stat(path); err == nil && fi.Size() > 64<<10 {
		offset = fi.Size() - 64<<10
	}
	text := strings.TrimRight(readFrom(path, offset), "\n")
	if text == "" {
		return "(empty)"
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// killPostmaster kills the postmaster named in the data directory's pid file and waits, up to
// ten seconds, for it to go. Its backends notice the postmaster's death and exit by themselves.
func killPostmaster(dataDir string) error {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return fmt.Errorf("kill postmaster: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return fmt.Errorf("kill postmaster: bad pid file line %q", first)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("kill postmaster %d: %w", pid, err)
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if gone(pid) {
			return nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return fmt.Errorf("kill postmaster %d: still present after 10s", pid)
		}
	}
}

// gone reports whether the process has exited. A zombie counts as gone: where nothing reaps
// orphans (a container without an init), the killed postmaster stays one and still answers
// signal 0.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may itself hold spaces.
	_, rest, ok := strings.Cut(string(stat), ") ")
	return ok && strings.HasPrefix(rest, "Z")
}
