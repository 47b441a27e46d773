package dump

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

const (
	// stderrTailSize bounds the standard error kept for messages.
	stderrTailSize = 4 << 10
	// waitDelay bounds Wait after the child exits or is killed, should something else hold its
	// output pipes.
	waitDelay = 2 * time.Second
	// copyBufferSize is the size of the writes the caller's writer receives.
	copyBufferSize = 1 << 20
	// readChunk is how much of the pipe is read at a time: all a grown pipe holds.
	readChunk = pipeSize
)

// ExitError reports a client program that exited non-zero or was killed by a signal.
type ExitError struct {
	Tool     string // "pg_dump", "pg_restore"
	ExitCode int    // -1 when killed by a signal
	Signal   string // the signal's name, "killed" for SIGKILL; "" when the program exited
	Stderr   string // the last 4 KiB at most of its standard error

	signum int // the signal's number, when known
}

// Error reads "pg_dump exited with status 1: <stderr>" or
// "pg_dump killed by signal 9 (killed): <stderr>".
func (e *ExitError) Error() string {
	var b strings.Builder
	switch {
	case e.Signal != "" && e.signum != 0:
		fmt.Fprintf(&b, "%s killed by signal %d (%s)", e.Tool, e.signum, e.Signal)
	case e.Signal != "":
		fmt.Fprintf(&b, "%s killed by signal %s", e.Tool, e.Signal)
	default:
		fmt.Fprintf(&b, "%s exited with status %d", e.Tool, e.ExitCode)
	}
	if tail := strings.TrimSpace(e.Stderr); tail != "" {
		b.WriteString(": ")
		b.WriteString(tail)
	}
	return b.String()
}

// job is one run of a client program: Dump, Restore and BinaryVersion all go through run.
type job struct {
	tool     string // for messages
	path     string
	args     []string // never holds the password
	password string   // "": no passfile (libpq falls back on ~/.pgpass, a passfile keyword, peer)
	logger   *slog.Logger
	noMemfd  bool      // use the temporary-file passfile; a test knob
	stdin    io.Reader // nil: no input; a program that stops reading early is not an error
}

// run starts the program in its own process group, copies its standard output to w (nil
// discards it) and waits. It returns the bytes written to w. The group is killed when ctx
// ends, when writing to w fails, and once more after the program exits, for stragglers. The
// program's environment is childEnv's allow-list, plus the passfile when there is a password.
func (j job) run(ctx context.Context, w io.Writer) (n int64, err error) {
	logger := j.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cmd := exec.CommandContext(ctx, j.path, j.args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = waitDelay
	tail := &tailBuffer{}
	cmd.Stderr = tail
	cmd.Stdin = j.stdin

	var passEnv []string
	if j.password != "" {
		pf, err := newPassfile(j.password, !j.noMemfd)
		if err != nil {
			return 0, err
		}
		defer func() {
			if cerr := pf.close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		passEnv = pf.env
		cmd.ExtraFiles = pf.files
	}
	cmd.Env = childEnv(os.Environ(), passEnv)
	var stdout io.ReadCloser
	if w != nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return 0, fmt.Errorf("start %s: %w", j.tool, err)
		}
		growPipe(stdout)
	}

	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return 0, stopped(ctx, j.tool+" not started", "")
		}
		return 0, fmt.Errorf("start %s: %w", j.tool, err)
	}
	pid := cmd.Process.Pid
	logger.Debug("client program started", "tool", j.tool, "pid", pid, "path", j.path,
		"args", j.scrub(strings.Join(j.args, " ")))

	var writeErr, readErr error
	if stdout != nil {
		n, writeErr, readErr = copyOutput(w, stdout)
		if writeErr != nil {
			// pg_dump would block on the full pipe, or die of SIGPIPE and hide the cause.
			_ = killGroup(pid)
		}
	}
	waitErr := cmd.Wait()
	_ = killGroup(pid) // whatever the program left in its group
	return n, j.outcome(ctx, waitErr, writeErr, readErr, tail.String())
}

// outcome turns how the run ended into the error to return, most telling cause first.
func (j job) outcome(ctx context.Context, waitErr, writeErr, readErr error, stderr string) error {
	stderr = j.scrub(stderr)
	if writeErr != nil {
		return fmt.Errorf("write dump output: %w", writeErr)
	}
	if waitErr == nil && readErr == nil {
		return nil
	}
	if ctx.Err() != nil {
		return stopped(ctx, j.tool+" stopped", stderr)
	}
	if ee, ok := errors.AsType[*exec.ExitError](waitErr); ok {
		e := &ExitError{Tool: j.tool, ExitCode: ee.ExitCode(), Stderr: stderr}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal, e.signum = ws.Signal().String(), int(ws.Signal())
		}
		return e
	}
	if waitErr != nil {
		return fmt.Errorf("wait for %s: %w", j.tool, waitErr)
	}
	return fmt.Errorf("read %s output: %w", j.tool, readErr)
}

// stopped reports a run ended by ctx. It wraps context.Cause(ctx), so that a caller of
// context.WithTimeoutCause can tell its timeout from a cancel, and ctx.Err() as well.
func stopped(ctx context.Context, what, stderr string) error {
	cause, ctxErr := context.Cause(ctx), ctx.Err()
	e := &stopError{text: what + ": " + cause.Error(), errs: []error{cause}}
	if !errors.Is(cause, ctxErr) {
		e.errs = append(e.errs, ctxErr)
	}
	if tail := strings.TrimSpace(stderr); tail != "" {
		e.text += "; stderr: " + tail
	}
	return e
}

// stopError is a run ended by its context. It matches both the context's cause and its error
// with errors.Is, but prints only the cause, which says why.
type stopError struct {
	text string
	errs []error
}

func (e *stopError) Error() string   { return e.text }
func (e *stopError) Unwrap() []error { return e.errs }

// scrub masks the password should a message ever contain it. libpq does not print passwords;
// this is a second line of defence for stderr and the logged command line.
func (j job) scrub(s string) string {
	if j.password == "" {
		return s
	}
	return strings.ReplaceAll(s, j.password, "xxxxx")
}

// killGroup sends SIGKILL to the process group led by pid. A group that is already gone is
// os.ErrProcessDone, which tells exec.Cmd that nothing was left to cancel.
func killGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// copyOutput copies r to w through a 1 MiB buffer, so that w sees large writes. It returns
// the bytes w accepted and, separately, a write error and a read error.
func copyOutput(w io.Writer, r io.Reader) (n int64, writeErr, readErr error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, copyBufferSize)
	buf := make([]byte, readChunk)
	for {
		m, err := r.Read(buf)
		if m > 0 {
			if _, werr := bw.Write(buf[:m]); werr != nil {
				return cw.n, werr, nil
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err, readErr
	}
	return cw.n, nil, readErr
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	m, err := c.w.Write(p)
	c.n += int64(m)
	return m, err
}

// tailBuffer keeps the last stderrTailSize bytes written to it. exec.Cmd writes to it from its
// own goroutine, hence the lock.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(p) >= stderrTailSize {
		t.buf = append(t.buf[:0], p[len(p)-stderrTailSize:]...)
		t.cut = true
		return len(p), nil
	}
	if over := len(t.buf) + len(p) - stderrTailSize; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	t.buf = append(t.buf, p...)
	return len(p), nil
}

// String returns the tail; when the start was cut, it begins at a whole character.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if t.cut {
		for len(b) > 0 && !utf8.RuneStart(b[0]) {
			b = b[1:]
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
