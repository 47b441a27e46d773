package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stderrKeep bounds how much of a command's standard error is kept for its error message.
const stderrKeep = 16 << 10

// measured is what one run of a program produced.
type measured struct {
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64 // bytes
	stdout string
	stderr string // the tail, at most stderrKeep bytes
}

// measure runs the program and times it. Wall time is Go's monotonic clock around start and
// wait. CPU and peak RSS come from the rusage that wait4 returns for the child: on Linux it
// covers the child and every descendant the child waited for, so pgsnap's figures include its
// pg_dump and pg_restore, and pg_restore -j's its workers. Maxrss is the largest single
// process of that tree, not a sum. The program runs in its own process group, which a
// cancelled ctx stops with SIGTERM (its own clean-up path) and, 30 s later, SIGKILL.
func measure(ctx context.Context, env []string, dir, bin string, args ...string) (measured, error) {
	cmd, stderr := newCommand(ctx, env, dir, bin, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	began := time.Now()
	err := cmd.Run()
	m := measured{wall: time.Since(began), stdout: stdout.String(), stderr: stderr.String()}
	m.cpu, m.maxRSS = usage(cmd)
	return m, runError(ctx, cmd, m.stderr, err)
}

// newCommand prepares a measured program: its own process group, stopped by SIGTERM when ctx
// ends (SIGKILL 30 s later), the tail of its standard error kept.
func newCommand(ctx context.Context, env []string, dir, bin string, args ...string) (*exec.Cmd, *tailBuffer) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	stderr := &tailBuffer{max: stderrKeep}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	return cmd, stderr
}

// usage returns user+system CPU and peak RSS (bytes) from the rusage wait4 returned for cmd,
// zeros when it never ran.
func usage(cmd *exec.Cmd) (cpu time.Duration, maxRSS int64) {
	if cmd.ProcessState == nil {
		return 0, 0
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss << 10 // KiB on Linux
}

// runError turns the error of a finished cmd into one naming the command and why it failed;
// nil stays nil, and a cancelled ctx is reported as such.
func runError(ctx context.Context, cmd *exec.Cmd, stderr string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	name := commandName(cmd.Path, cmd.Args[1:])
	if last := failureText(stderr); last != "" {
		return fmt.Errorf("%s: %w: %s", name, err, last)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// commandName is the program's base name and its first argument: enough to say which
// command failed without repeating paths.
func commandName(bin string, args []string) string {
	name := bin[strings.LastIndexByte(bin, '/')+1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name += " " + args[0]
	}
	return name
}

// lastLine returns the last non-empty line of out, trimmed, or "".
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// failureText is why a program failed, from its standard error: pgsnap's final "pgsnap: "
// report (with its indented continuation lines), else the last line.
func failureText(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "pgsnap: ") {
			return strings.Join(strings.Fields(strings.Join(lines[i:], " ")), " ")
		}
	}
	return logText(lastLine(stderr))
}

// linesContaining returns the lines of out that contain sub, joined by "; ".
func linesContaining(out, sub string) string {
	var found []string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, sub) {
			found = append(found, logText(strings.TrimSpace(l)))
		}
	}
	return strings.Join(found, "; ")
}

// logText drops the time= and level= fields of a log/slog text line; other lines are kept.
func logText(line string) string {
	for _, key := range []string{"time=", "level="} {
		if rest, ok := strings.CutPrefix(line, key); ok {
			_, line, _ = strings.Cut(rest, " ")
		}
	}
	return line
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// fileSize returns the size of the file at path.
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, errors.New(path + " is not a regular file")
	}
	return fi.Size(), nil
}
