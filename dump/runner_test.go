package dump

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	var tb tailBuffer
	tb.Write([]byte("short\n"))
	if got := tb.String(); got != "short\n" {
		t.Errorf("tail after a short write = %q, want %q", got, "short\n")
	}
	for range 1000 {
		tb.Write([]byte("line of stderr é\n"))
	}
	tb.Write([]byte("last line\n"))
	got := tb.String()
	if len(got) > stderrTailSize || !strings.HasSuffix(got, "last line\n") || strings.Contains(got, "short") {
		t.Errorf("tail after 18 KB is %d bytes ending %q, want at most %d ending with the last line", len(got), got[max(0, len(got)-20):], stderrTailSize)
	}
	var big tailBuffer
	big.Write([]byte(strings.Repeat("x", 10_000) + "end"))
	if got := big.String(); len(got) != stderrTailSize || !strings.HasSuffix(got, "end") {
		t.Errorf("tail after one 10 KB write is %d bytes, want %d ending with end", len(got), stderrTailSize)
	}
	// A cut through a multi-byte character starts at the next whole one.
	var cut tailBuffer
	cut.Write([]byte(strings.Repeat("é", stderrTailSize/2+1)))
	if got := cut.String(); !strings.HasPrefix(got, "é") {
		t.Errorf("tail cut in a character starts %q, want a whole é", got[:4])
	}
}

func TestExitErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    *ExitError
		want string
	}{
		{&ExitError{Tool: "pg_dump", ExitCode: 1, Stderr: "pg_dump: error: boom\n"}, "pg_dump exited with status 1: pg_dump: error: boom"},
		{&ExitError{Tool: "pg_restore", ExitCode: 2}, "pg_restore exited with status 2"},
		{&ExitError{Tool: "pg_dump", ExitCode: -1, Signal: "killed", signum: 9}, "pg_dump killed by signal 9 (killed)"},
		{&ExitError{Tool: "pg_dump", ExitCode: -1, Signal: "killed", Stderr: "tail"}, "pg_dump killed by signal killed: tail"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestPassfileLine(t *testing.T) {
	t.Parallel()
	if got, want := passfileLine(`a:b\c`), `*:*:*:*:a\:b\\c`+"\n"; got != want {
		t.Errorf("passfileLine = %q, want %q", got, want)
	}
}

func TestPassfileTemp(t *testing.T) {
	t.Parallel()
	pf, err := newPassfile("pw", false)
	if err != nil {
		t.Fatal(err)
	}
	path, ok := strings.CutPrefix(pf.env[0], "PGPASSFILE=")
	if !ok || len(pf.files) != 0 {
		t.Fatalf("temporary passfile env = %v, files %d; want PGPASSFILE=<path> and no files", pf.env, len(pf.files))
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): os.ModeDir | 0o700} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode() != want {
			t.Errorf("stat %s = %v, %v; want mode %v", p, fi.Mode(), err, want)
		}
	}
	if err := pf.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("passfile directory after close: %v, want it removed", err)
	}
}

func TestPassfileLineBreak(t *testing.T) {
	t.Parallel()
	pf, err := newPassfile("a\nb", true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"PGPASSWORD=a\nb"}, pf.env); diff != "" || len(pf.files) != 0 {
		t.Errorf("passfile for a password with a line break: env %q files %d, want PGPASSWORD only", pf.env, len(pf.files))
	}
}

// TestRunStartErrors covers a program that cannot start, and a context already done.
func TestRunStartErrors(t *testing.T) {
	t.Parallel()
	_, err := job{tool: "pg_dump", path: "/nonexistent/pg_dump"}.run(t.Context(), nil)
	if err == nil || !strings.Contains(err.Error(), "start pg_dump") {
		t.Errorf("run of a missing program = %v, want a start error", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = job{tool: "true", path: "/bin/true"}.run(ctx, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("run with a cancelled context = %v, want context.Canceled", err)
	}
}
