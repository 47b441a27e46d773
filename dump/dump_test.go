package dump

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// t30Passwords are RELIABILITY.md's T30 passwords.
func t30Passwords() map[string]string {
	const charset = `aZ09:/?#[]@!$&'()*+,;=%\"<>{}|^~` + "` -._"
	return map[string]string{
		"url metacharacters": `s3cr@t:/p%w#?&=x`,
		"colon backslash":    `pa:ss\word:\\end\`,
		"spaces quotes":      ` it's a "quoted" pass phrase `,
		"non-ascii":          "pässwörd漢字",
		"128 chars":          strings.Repeat(charset, 4)[:128],
	}
}

// pctEncode percent-encodes every byte but RFC 3986's unreserved ones.
func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// kvQuote quotes a value for the keyword/value form.
func kvQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// secretForms are the forms in which a password could leak.
func secretForms(pw string) []string {
	return []string{pw, pctEncode(pw), strings.ToLower(pctEncode(pw)), url.QueryEscape(pw), url.PathEscape(pw)}
}

func checkNoSecret(t *testing.T, what, out, pw string) {
	t.Helper()
	for _, form := range secretForms(pw) {
		if strings.Contains(out, form) {
			t.Errorf("%s contains the password (as %q): %q", what, form, out)
		}
	}
}

// createRole creates a login role with password pw that may dump db, and drops it in cleanup.
func (e env) createRole(t *testing.T, db, pw string) string {
	t.Helper()
	ctx := t.Context()
	role := "r_" + strings.TrimPrefix(db, "t_") + "_" + fmt.Sprint(time.Now().UnixNano()%1e9)
	literal := "'" + strings.ReplaceAll(pw, "'", "''") + "'" // standard_conforming_strings is on
	for _, sql := range []string{
		`CREATE ROLE "` + role + `" LOGIN PASSWORD ` + literal,
		`GRANT CONNECT ON DATABASE "` + db + `" TO "` + role + `"`,
	} {
		if err := e.c.Exec(ctx, "postgres", sql); err != nil {
			t.Fatal(err)
		}
	}
	for _, sql := range []string{
		`GRANT USAGE ON SCHEMA public TO "` + role + `"`,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public TO "` + role + `"`,
	} {
		if err := e.c.Exec(ctx, db, sql); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// DROP OWNED revokes the grants in db and on the database itself.
		if err := e.c.Exec(ctx, db, `DROP OWNED BY "`+role+`"`); err != nil {
			t.Error(err)
		}
		if err := e.c.Exec(ctx, "postgres", `DROP ROLE "`+role+`"`); err != nil {
			t.Error(err)
		}
	})
	return role
}

func TestDumpOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	db := e.c.CreateDB(t)
	e.fill(t, db, 1000)
	var out bytes.Buffer
	n, err := Dump(t.Context(), e.dumpOpts(t, e.c.URL(db)), &out)
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("PGDMP")) {
		t.Errorf("Dump output starts with %q, want PGDMP", out.Bytes()[:min(out.Len(), 5)])
	}
	if n != int64(out.Len()) || n < 50_000 {
		t.Errorf("Dump() = %d bytes, wrote %d; want equal and at least 50000", n, out.Len())
	}
}

// TestDumpPasswords is T30: each torture password, in a URL and in keyword/value form, works,
// and shows up neither in the debug log nor in the error of a failed attempt.
func TestDumpPasswords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	db := e.c.CreateDB(t)
	e.fill(t, db, 100)
	passwords := t30Passwords()
	passwords["line break"] = "line\nbreak\r" // goes through PGPASSWORD: a passfile cannot hold it
	for name, pw := range passwords {
		t.Run(name, func(t *testing.T) {
			role := e.createRole(t, db, pw)
			forms := map[string]string{
				"url": "postgres://" + pctEncode(role) + ":" + pctEncode(pw) + "@" + e.c.Addr() + "/" + db + "?sslmode=disable",
				"keyword/value": fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=disable",
					e.c.Host, e.c.Port, role, kvQuote(pw), db),
			}
			for form, conn := range forms {
				var logs bytes.Buffer
				opts := e.dumpOpts(t, conn)
				opts.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				var out bytes.Buffer
				if _, err := Dump(t.Context(), opts, &out); err != nil {
					t.Fatalf("Dump(%s): %v", form, err)
				}
				if !bytes.HasPrefix(out.Bytes(), []byte("PGDMP")) {
					t.Errorf("Dump(%s) output does not start with PGDMP", form)
				}
				if !strings.Contains(logs.String(), "--dbname=") {
					t.Errorf("debug log has no command line: %q", logs.String())
				}
				checkNoSecret(t, "debug log", logs.String(), pw)

				// Control: a wrong password fails, so the password above was really checked.
				opts.Conn = opts.Conn.With("password", pw+"x")
				_, err := Dump(t.Context(), opts, io.Discard)
				var ee *ExitError
				if !errors.As(err, &ee) || !strings.Contains(ee.Stderr, "password authentication failed") {
					t.Fatalf("Dump(%s, wrong password) = %v, want *ExitError about password authentication", form, err)
				}
				checkNoSecret(t, "error", err.Error(), pw)
			}
		})
	}
}

// TestDumpSecretsNotExposed samples every process's argv, and pg_dump's environment and fd 3,
// every 50 ms during a throttled dump.
func TestDumpSecretsNotExposed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	db := e.c.CreateDB(t)
	e.fill(t, db, 12_000)
	pw := `s3cr@t:/p%w#?&=x`
	role := e.createRole(t, db, pw)
	proxyAddr := pgtest.Throttle(t, e.c.Addr(), 200_000)
	conn := "postgres://" + role + ":" + pctEncode(pw) + "@" + proxyAddr + "/" + db + "?sslmode=disable"

	stop := make(chan struct{})
	var (
		wg sync.WaitGroup
		s  sampler
	)
	wg.Go(func() { s.run(stop, db, secretForms(pw)) })
	var out bytes.Buffer
	_, err := Dump(t.Context(), e.dumpOpts(t, conn), &out)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	t.Logf("sampled pg_dump %d times", s.seen)
	if s.seen < 3 {
		t.Fatalf("pg_dump was sampled %d times, want at least 3 (the dump was too quick to observe)", s.seen)
	}
	for _, leak := range s.leaks {
		t.Error(leak)
	}
}

// sampler records what it finds in /proc while a dump runs.
type sampler struct {
	seen  int
	leaks []string
}

func (s *sampler) run(stop <-chan struct{}, db string, forms []string) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.sample(db, forms)
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

func (s *sampler) sample(db string, forms []string) {
	for _, pid := range allPIDs() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		for _, f := range forms {
			if bytes.Contains(cmdline, []byte(f)) {
				s.leaks = append(s.leaks, fmt.Sprintf("pid %d argv contains the password: %q", pid, cmdline))
			}
		}
	}
	for _, pid := range ourChildren("pg_dump", db) {
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue // exited meanwhile
		}
		s.seen++
		vars := strings.Split(string(environ), "\x00")
		var passfile string
		for _, v := range vars {
			if strings.HasPrefix(v, "PGPASSWORD=") {
				s.leaks = append(s.leaks, fmt.Sprintf("pg_dump %d has PGPASSWORD in its environment", pid))
			}
			if p, ok := strings.CutPrefix(v, "PGPASSFILE="); ok {
				passfile = p
			}
		}
		for _, f := range forms {
			if bytes.Contains(environ, []byte(f)) {
				s.leaks = append(s.leaks, fmt.Sprintf("pg_dump %d environment contains the password", pid))
			}
		}
		if passfile != "/dev/fd/3" {
			s.leaks = append(s.leaks, fmt.Sprintf("pg_dump %d: PGPASSFILE = %q, want /dev/fd/3", pid, passfile))
			continue
		}
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", pid))
		fi, err := os.Stat(fmt.Sprintf("/proc/%d/fd/3", pid))
		if err == nil && (!strings.HasPrefix(target, "/memfd:pgsnap-pgpass") || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular()) {
			s.leaks = append(s.leaks, fmt.Sprintf("pg_dump %d: fd 3 is %q mode %v, want a 0600 memfd", pid, target, fi.Mode()))
		}
	}
}

// startThrottledDump starts a dump of a ~1 MB database through a 200 KB/s proxy, so that it
// lasts about five seconds, and returns the database and a channel with Dump's outcome.
func (e env) startThrottledDump(t *testing.T, ctx context.Context) (string, <-chan error) {
	t.Helper()
	db := e.c.CreateDB(t)
	e.fill(t, db, 12_000)
	opts := e.dumpOpts(t, e.throttledURL(t, db, 200_000))
	done := make(chan error, 1)
	go func() {
		_, err := Dump(ctx, opts, io.Discard)
		done <- err
	}()
	return db, done
}

// awaitReturn waits for Dump's outcome, failing if it takes longer than limit.
func awaitReturn(t *testing.T, done <-chan error, limit time.Duration) error {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.Fatalf("Dump did not return within %v", limit)
		return nil
	}
}

func TestDumpCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	db, done := e.startThrottledDump(t, ctx)
	pid := waitForChild(t, "pg_dump", db)
	e.waitForCopy(t, db)

	cancel()
	err := awaitReturn(t, done, 3*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Dump after cancel = %v, want context.Canceled", err)
	}
	waitFor(t, 2*time.Second, "pg_dump's process group to be gone", func() bool { return len(groupMembers(pid)) == 0 })
	e.waitSessionsGone(t, db)
}

func TestDumpTimeoutCause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	errSlow := errors.New("snapshot took too long")
	ctx, cancel := context.WithTimeoutCause(t.Context(), time.Second, errSlow)
	defer cancel()
	db, done := e.startThrottledDump(t, ctx)
	err := awaitReturn(t, done, 30*time.Second)
	if !errors.Is(err, errSlow) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dump past its deadline = %v, want the cause %v and context.DeadlineExceeded", err, errSlow)
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("Dump past its deadline = %v, must not be context.Canceled", err)
	}
	e.waitSessionsGone(t, db)
}

func TestDumpKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	db, done := e.startThrottledDump(t, t.Context())
	pid := waitForChild(t, "pg_dump", db)
	e.waitForCopy(t, db)
	// What the OOM killer does.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := awaitReturn(t, done, 30*time.Second)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Signal != "killed" || ee.ExitCode != -1 {
		t.Fatalf("Dump with pg_dump killed = %v, want *ExitError with Signal \"killed\"", err)
	}
	if !strings.Contains(err.Error(), "pg_dump killed by signal 9") {
		t.Errorf("error = %q, want it to say pg_dump killed by signal 9", err)
	}
	e.waitSessionsGone(t, db)
}

// failingWriter accepts limit bytes, then fails.
type failingWriter struct {
	limit, n int
	err      error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+len(p) <= w.limit {
		w.n += len(p)
		return len(p), nil
	}
	m := w.limit - w.n
	w.n = w.limit
	return m, w.err
}

func TestDumpWriteError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	db := e.c.CreateDB(t)
	e.fill(t, db, 40_000) // ~3 MB: pg_dump is still writing when the writer fails
	errFull := errors.New("store is full")
	w := &failingWriter{limit: 100 << 10, err: errFull}
	n, err := Dump(t.Context(), e.dumpOpts(t, e.c.URL(db)), w)
	if !errors.Is(err, errFull) || !strings.Contains(err.Error(), "write dump output") {
		t.Fatalf("Dump to a failing writer = %v, want it to wrap %v as write dump output", err, errFull)
	}
	if n != 100<<10 {
		t.Errorf("Dump to a failing writer = %d bytes, want %d", n, 100<<10)
	}
	if pids := ourChildren("pg_dump", db); len(pids) != 0 {
		t.Errorf("pg_dump processes left after a write error: %v", pids)
	}
	e.waitSessionsGone(t, db)
}

func TestDumpMissingDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := Dump(t.Context(), e.dumpOpts(t, e.c.URL("no_such_database")), io.Discard)
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Dump of a missing database = %v, want *ExitError", err)
	}
	if ee.ExitCode == 0 || ee.Signal != "" || !strings.Contains(ee.Stderr, "does not exist") {
		t.Errorf("ExitError = {ExitCode %d, Signal %q, Stderr %q}, want a non-zero exit saying does not exist", ee.ExitCode, ee.Signal, ee.Stderr)
	}
	if !strings.HasPrefix(err.Error(), "pg_dump exited with status 1: ") {
		t.Errorf("error = %q, want pg_dump exited with status 1: …", err)
	}
	checkNoSecret(t, "error", err.Error(), e.c.Password)
}

// TestDumpLockWaitTimeout is T9a: a table locked by another session makes pg_dump fail after
// the lock-wait timeout instead of waiting.
func TestDumpLockWaitTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	db := e.c.CreateDB(t)
	e.fill(t, db, 10)
	conn, err := e.c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(t.Context()))
	if _, err := tx.Exec(t.Context(), "LOCK TABLE payload IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	opts := e.dumpOpts(t, e.c.URL(db))
	opts.LockWaitTimeout = 500 * time.Millisecond
	_, err = Dump(t.Context(), opts, io.Discard)
	var ee *ExitError
	// pg_dump enforces --lock-wait-timeout with statement_timeout around its LOCK TABLE.
	if !errors.As(err, &ee) || !strings.Contains(ee.Stderr, "timeout") || !strings.Contains(ee.Stderr, "LOCK TABLE public.payload") {
		t.Fatalf("Dump of a locked table = %v, want *ExitError naming the timeout and the table's LOCK TABLE", err)
	}
}

// TestDumpTempPassfile forces the fallback used where memfd_create is missing: a 0600 file
// in a 0700 temporary directory, removed after success and after failure.
func TestDumpTempPassfile(t *testing.T) {
	e := newEnv(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	db := e.c.CreateDB(t)
	e.fill(t, db, 100)
	for _, target := range []string{db, "no_such_database"} {
		j, err := dumpJob(e.dumpOpts(t, e.c.URL(target)), os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		j.noMemfd = true
		var out bytes.Buffer
		_, err = j.run(t.Context(), &out)
		if target == db && err != nil {
			t.Fatalf("dump with a temporary passfile: %v", err)
		}
		if target != db && err == nil {
			t.Fatalf("dump of a missing database with a temporary passfile succeeded")
		}
		left, _ := filepath.Glob(filepath.Join(tmp, "*"))
		if len(left) != 0 {
			t.Errorf("left in TMPDIR after dumping %s: %v", target, left)
		}
	}
}

func TestDumpArguments(t *testing.T) {
	t.Parallel()
	conn := mustParse(t, "postgres://u:secret@h:5432/db?options=-c%20work_mem%3D64MB&passfile=/x")
	j, err := dumpJob(DumpOptions{
		Conn:            conn,
		Binary:          Binary{Tool: "pg_dump", Path: "/bin/pg_dump"},
		Server:          Version{Major: 15, Minor: 4},
		LockWaitTimeout: 4 * time.Second,
		Args:            []string{"--schema=app"},
	}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"--format=custom",
		"--no-password",
		`--dbname=user='u' host='h' port='5432' dbname='db' options='-c work_mem=64MB -c client_connection_check_interval=1000' application_name='pgsnap'`,
		"--lock-wait-timeout=4000",
		"--schema=app",
	}
	if strings.Join(j.args, "\n") != strings.Join(want, "\n") {
		t.Errorf("dumpJob args =\n%s\nwant\n%s", strings.Join(j.args, "\n"), strings.Join(want, "\n"))
	}
	if j.password != "secret" {
		t.Errorf("dumpJob password = %q, want %q", j.password, "secret")
	}
	// Before 14 there is no client_connection_check_interval.
	old, err := dumpJob(DumpOptions{Conn: mustParse(t, "host=h"), Server: Version{Major: 13}}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(old.args, " "), "client_connection_check_interval") {
		t.Errorf("dumpJob for a 13 server sets client_connection_check_interval: %v", old.args)
	}
}

// noEnv is an empty environment for clientConn.
func noEnv(string) string { return "" }
