package dump

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

func TestChildEnvAllowList(t *testing.T) {
	t.Parallel()
	environ := []string{
		"PATH=/usr/bin:/bin", "HOME=/home/pgsnap", "USER=pgsnap", "LOGNAME=pgsnap",
		"LANG=C.UTF-8", "LANGUAGE=en", "LC_ALL=C", "LC_MESSAGES=C", "TZ=UTC", "TMPDIR=/tmp",
		"PGHOST=db", "PGPORT=5433", "PGSSLMODE=verify-full", "PGSSLROOTCERT=/ca.crt",
		"PGTARGETSESSIONATTRS=primary", "PGSERVICEFILE=/s.conf", "PGSYSCONFDIR=/etc/pg",
		"PGTZ=UTC", "PGCLIENTENCODING=UTF8", "PGCONNECT_TIMEOUT=10", "PGKRBSRVNAME=pg",
		"KRB5CCNAME=FILE:/tmp/cc", "KRB5_CONFIG=/etc/krb5.conf", "LD_LIBRARY_PATH=/opt/pg/lib",
		"SSL_CERT_FILE=/etc/ssl/ca.pem",
		// Never inherited.
		"PGPASSWORD=pw", "PGPASSFILE=/home/pgsnap/.pgpass", "PGPASSWORDX=x",
		"DATABASE_URL=postgres://u:pw@h/db", "DATABASE_URL_REPLICA=postgres://u:pw@r/db",
		"AWS_SECRET_ACCESS_KEY=aws", "AWS_ACCESS_KEY_ID=id", "AWS_SESSION_TOKEN=tok",
		"SNAPSHOT_WEBHOOK_SECRET=hook", "SNAPSHOT_HTTP_PASSWORD=http", "SNAPSHOT_PG_BIN_DIR=/opt/pg/bin",
		"PGSNAP_AGE_IDENTITY=AGE-SECRET-KEY-1", "GITHUB_TOKEN=ghp", "LD_PRELOAD=/evil.so",
		"PG_COLOR=always", "PSQLRC=/x", "path=lower", "LC", "=odd", "",
	}
	got := childEnv(environ, []string{"PGPASSFILE=/dev/fd/3"})
	want := []string{
		"PATH=/usr/bin:/bin", "HOME=/home/pgsnap", "USER=pgsnap", "LOGNAME=pgsnap",
		"LANG=C.UTF-8", "LANGUAGE=en", "LC_ALL=C", "LC_MESSAGES=C", "TZ=UTC", "TMPDIR=/tmp",
		"PGHOST=db", "PGPORT=5433", "PGSSLMODE=verify-full", "PGSSLROOTCERT=/ca.crt",
		"PGTARGETSESSIONATTRS=primary", "PGSERVICEFILE=/s.conf", "PGSYSCONFDIR=/etc/pg",
		"PGTZ=UTC", "PGCLIENTENCODING=UTF8", "PGCONNECT_TIMEOUT=10", "PGKRBSRVNAME=pg",
		"KRB5CCNAME=FILE:/tmp/cc", "KRB5_CONFIG=/etc/krb5.conf", "LD_LIBRARY_PATH=/opt/pg/lib",
		"SSL_CERT_FILE=/etc/ssl/ca.pem",
		"PGPASSFILE=/dev/fd/3",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("childEnv mismatch (-want +got):\n%s", diff)
	}
	if got := childEnv(nil, nil); got == nil {
		t.Errorf("childEnv(nil, nil) = nil, want an empty environment (nil would inherit everything)")
	}
}

func TestClientConn(t *testing.T) {
	t.Parallel()
	env := func(vars ...string) func(string) string {
		return func(name string) string {
			for _, kv := range vars {
				if v, ok := strings.CutPrefix(kv, name+"="); ok {
					return v
				}
			}
			return ""
		}
	}
	tests := []struct {
		name, conn string
		getenv     func(string) string
		wantKV     string
		wantPW     string
	}{
		{"password in conn wins over PGPASSWORD", "host=h password=own", env("PGPASSWORD=env", "PGPASSFILE=/pf"),
			"host='h' application_name='pgsnap'", "own"},
		{"PGPASSWORD without one in conn", "host=h", env("PGPASSWORD=env", "PGPASSFILE=/pf"),
			"host='h' application_name='pgsnap'", "env"},
		{"PGPASSWORD wins over a passfile keyword, as in libpq", "host=h passfile=/own", env("PGPASSWORD=env"),
			"host='h' application_name='pgsnap'", "env"},
		{"PGPASSFILE becomes the keyword", "host=h", env("PGPASSFILE=/pf"),
			"host='h' application_name='pgsnap' passfile='/pf'", ""},
		{"passfile keyword wins over PGPASSFILE", "host=h passfile=/own", env("PGPASSFILE=/pf"),
			"host='h' passfile='/own' application_name='pgsnap'", ""},
		{"empty PGPASSWORD is none", "host=h", env("PGPASSWORD=", "PGPASSFILE=/pf"),
			"host='h' application_name='pgsnap' passfile='/pf'", ""},
		{"nothing", "host=h", noEnv, "host='h' application_name='pgsnap'", ""},
	}
	for _, tt := range tests {
		c, err := clientConn(mustParse(t, tt.conn), Version{Major: 13}, tt.getenv)
		if err != nil {
			t.Errorf("%s: clientConn: %v", tt.name, err)
			continue
		}
		if c.KeywordValue() != tt.wantKV || c.Password() != tt.wantPW {
			t.Errorf("%s: clientConn(%q) = %q with password %q, want %q with %q", tt.name, tt.conn, c.KeywordValue(), c.Password(), tt.wantKV, tt.wantPW)
		}
	}
	_, err := clientConn(mustParse(t, "host=h sslkey=/k sslpassword=k3y-pass"), Version{Major: 15}, noEnv)
	if !errors.Is(err, conninfo.ErrSSLPassword) || strings.Contains(err.Error(), "k3y-pass") {
		t.Errorf("clientConn with an sslpassword = %v, want conninfo.ErrSSLPassword without the value", err)
	}
}

// TestSSLPasswordRefused checks that no entry point starts a program whose command line would
// hold an sslpassword.
func TestSSLPasswordRefused(t *testing.T) {
	t.Parallel()
	conn := mustParse(t, "host=h sslkey=/k sslpassword=k3y-pass")
	marker := filepath.Join(t.TempDir(), "started")
	prog := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := Binary{Path: prog}
	archive := filepath.Join(t.TempDir(), "a.dump")
	if err := os.WriteFile(archive, []byte("PGDMP"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	errs := map[string]error{}
	_, errs["Dump"] = Dump(ctx, DumpOptions{Conn: conn, Binary: b}, io.Discard)
	errs["Restore"] = Restore(ctx, RestoreOptions{Conn: conn, Binary: b, File: archive, Jobs: 1})
	_, errs["Globals"] = Globals(ctx, GlobalsOptions{Conn: conn, Binary: b}, io.Discard)
	errs["ApplySQL"] = ApplySQL(ctx, ApplySQLOptions{Conn: conn, Binary: b}, strings.NewReader("SELECT 1"))
	for name, err := range errs {
		if !errors.Is(err, conninfo.ErrSSLPassword) || strings.Contains(err.Error(), "k3y-pass") {
			t.Errorf("%s with an sslpassword = %v, want conninfo.ErrSSLPassword without the value", name, err)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("a program was started with an sslpassword on its command line")
	}
}

// childSecrets are variables of pgsnap's environment that no client program may see.
var childSecrets = map[string]string{
	"DATABASE_URL":            "postgres://app:Db-Url-Secret-71a@db.example/app",
	"DATABASE_URL_REPLICA":    "postgres://app:Replica-Secret-2c4@replica/app",
	"AWS_SECRET_ACCESS_KEY":   "Aws-Secret-Key-9f3e",
	"AWS_ACCESS_KEY_ID":       "AKIA-Test-Key-Id-5d1",
	"SNAPSHOT_WEBHOOK_SECRET": "Webhook-Secret-44d2",
	"SNAPSHOT_HTTP_PASSWORD":  "Http-Password-81b0",
	"SNAPSHOT_AGE_RECIPIENT":  "age1-Recipient-0b7",
	"PGSNAP_AGE_IDENTITY":     "AGE-SECRET-KEY-1-Identity-6ee",
	"PGPASSWORD":              "Env-PgPassword-3a9",
	"PGPASSFILE":              "/nonexistent/Env-PgPassfile-8c2",
	"SOME_API_TOKEN":          "Api-Token-1f0",
}

// childPassed are variables that a client program must see, with the values the test sets.
var childPassed = map[string]string{
	"LANG":              "C.UTF-8",
	"LC_MESSAGES":       "C",
	"TZ":                "UTC",
	"PGCONNECT_TIMEOUT": "30",
	"KRB5CCNAME":        "FILE:/nonexistent/krb5cc_pgsnap_test",
}

// setChildEnv puts childSecrets and childPassed in the test process's environment.
func setChildEnv(t *testing.T) {
	for k, v := range childSecrets {
		t.Setenv(k, v)
	}
	for k, v := range childPassed {
		t.Setenv(k, v)
	}
	if os.Getenv("PATH") == "" {
		t.Fatal("PATH is not set")
	}
}

// checkChildEnv checks a client program's environment, read from /proc/<pid>/environ: none of
// childSecrets, by name or value; childPassed and PATH as set; and the passfile as wantPassfile
// says ("" for no PGPASSFILE at all).
func checkChildEnv(t *testing.T, tool string, environ []byte, wantPassfile string) {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range strings.Split(string(environ), "\x00") {
		if name, value, ok := strings.Cut(kv, "="); ok {
			vars[name] = value
		}
	}
	if len(vars) == 0 {
		t.Fatalf("%s: empty environment read from /proc", tool)
	}
	for name := range childSecrets {
		if name == "PGPASSFILE" {
			continue // checked below: pgsnap sets its own
		}
		if _, ok := vars[name]; ok {
			t.Errorf("%s inherited %s", tool, name)
		}
	}
	for _, value := range childSecrets {
		if bytes.Contains(environ, []byte(value)) {
			t.Errorf("%s's environment holds the value %q of a pgsnap secret", tool, value)
		}
	}
	for name, want := range childPassed {
		if vars[name] != want {
			t.Errorf("%s: %s = %q, want %q", tool, name, vars[name], want)
		}
	}
	if vars["PATH"] != os.Getenv("PATH") {
		t.Errorf("%s: PATH = %q, want pgsnap's %q", tool, vars["PATH"], os.Getenv("PATH"))
	}
	pf, ok := vars["PGPASSFILE"]
	switch {
	case wantPassfile == "" && ok:
		t.Errorf("%s: PGPASSFILE = %q, want none", tool, pf)
	case wantPassfile != "" && pf != wantPassfile:
		t.Errorf("%s: PGPASSFILE = %q, want %q", tool, pf, wantPassfile)
	}
	for name := range vars {
		if !allowedInChild(name) && name != "PGPASSFILE" {
			t.Errorf("%s: %s is not on the allow-list", tool, name)
		}
	}
	if t.Failed() {
		t.Logf("%s's environment: %q", tool, slices.Sorted(func(yield func(string) bool) {
			for k := range vars {
				if !yield(k) {
					return
				}
			}
		}))
	}
}

// gate is a TCP proxy to a PostgreSQL server that holds every connection until it is opened:
// a client program started through it stays alive, connecting, for as long as the test wants
// to look at it, then runs to completion against the real server.
type gate struct {
	target string
	ln     net.Listener
	opened chan struct{}
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{target: target, ln: ln, opened: make(chan struct{}), done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	g.wg.Go(g.accept)
	t.Cleanup(func() {
		close(g.done)
		_ = ln.Close()
		g.mu.Lock()
		g.closed = true
		for c := range g.conns {
			_ = c.Close()
		}
		g.mu.Unlock()
		g.wg.Wait()
	})
	return g
}

func (g *gate) addr() string { return g.ln.Addr().String() }

func (g *gate) open() { g.once.Do(func() { close(g.opened) }) }

func (g *gate) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		_ = c.Close()
		return false
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *gate) accept() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		if g.track(c) {
			g.wg.Go(func() { g.serve(c) })
		}
	}
}

func (g *gate) serve(client net.Conn) {
	defer client.Close()
	select {
	case <-g.opened:
	case <-g.done:
		return
	}
	server, err := net.Dial("tcp", g.target)
	if err != nil || !g.track(server) {
		return
	}
	defer server.Close()
	g.wg.Go(func() {
		_, _ = io.Copy(server, client)
		_ = server.Close()
	})
	_, _ = io.Copy(client, server)
}

// watchChild runs start, which must start the client program comm through g with marker on
// its command line, waits for the program, reads its environment from /proc while the gate
// holds it, then opens the gate and returns the environment and start's result.
func watchChild(t *testing.T, g *gate, comm, marker string, start func() error) ([]byte, error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- start() }()
	var pids []int
	waitFor(t, 10*time.Second, comm+" to start", func() bool {
		select {
		case err := <-done:
			t.Fatalf("%s ended before it could be observed: %v", comm, err)
		default:
		}
		pids = ourChildren(comm, marker)
		return len(pids) > 0
	})
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pids[0]))
	g.open()
	runErr := <-done
	if err != nil {
		t.Fatalf("read %s's environment: %v", comm, err)
	}
	return environ, runErr
}

// TestChildEnvironment starts pg_dump, pg_restore, pg_dumpall and psql against the test
// cluster with pgsnap-like secrets in this process's environment, and reads each program's
// environment from /proc while it is held connecting: no secret reaches it, PATH, the
// locale and libpq's variables do, and PGPASSFILE is pgsnap's passfile. It uses t.Setenv, so
// it does not run in parallel.
func TestChildEnvironment(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	pgDumpall, err := Find(ctx, "pg_dumpall", e.server, e.c.BinDir)
	if err != nil {
		t.Fatal(err)
	}
	psql, err := Find(ctx, "psql", e.server, e.c.BinDir)
	if err != nil {
		t.Fatal(err)
	}
	src := e.c.CreateDB(t)
	e.fill(t, src, 100)
	archive := filepath.Join(t.TempDir(), "src.dump")
	var buf bytes.Buffer
	if _, err := Dump(ctx, e.dumpOpts(t, e.c.URL(src)), &buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(archive, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	setChildEnv(t)
	// gated is db's URL through a new gate, with the cluster's password.
	gated := func(t *testing.T, db string) (*gate, conninfo.Info) {
		g := newGate(t, e.c.Addr())
		return g, mustParse(t, strings.Replace(e.c.URL(db), e.c.Addr(), g.addr(), 1))
	}

	t.Run("pg_dump", func(t *testing.T) {
		g, conn := gated(t, src)
		opts := e.dumpOpts(t, e.c.URL(src))
		opts.Conn = conn
		var out bytes.Buffer
		environ, err := watchChild(t, g, "pg_dump", src, func() error { _, err := Dump(ctx, opts, &out); return err })
		if err != nil || !bytes.HasPrefix(out.Bytes(), []byte("PGDMP")) {
			t.Fatalf("Dump = %v, output %q…; want an archive", err, out.Bytes()[:min(out.Len(), 5)])
		}
		checkChildEnv(t, "pg_dump", environ, "/dev/fd/3")
	})
	t.Run("pg_restore", func(t *testing.T) {
		dst := e.c.CreateDB(t)
		g, conn := gated(t, dst)
		opts := RestoreOptions{Conn: conn, Binary: e.pgRestore, Server: e.server, File: archive, Jobs: 1, NoOwner: true}
		environ, err := watchChild(t, g, "pg_restore", dst, func() error { return Restore(ctx, opts) })
		if err != nil {
			t.Fatalf("Restore: %v", err)
		}
		if diff := cmp.Diff(e.fingerprint(t, src), e.fingerprint(t, dst)); diff != "" {
			t.Errorf("restored database differs (-source +restored):\n%s", diff)
		}
		checkChildEnv(t, "pg_restore", environ, "/dev/fd/3")
	})
	t.Run("pg_dumpall", func(t *testing.T) {
		g, conn := gated(t, src)
		var out bytes.Buffer
		environ, err := watchChild(t, g, "pg_dumpall", src, func() error {
			_, err := Globals(ctx, GlobalsOptions{Conn: conn, Binary: pgDumpall, Server: e.server}, &out)
			return err
		})
		if err != nil || !strings.Contains(out.String(), "CREATE ROLE") {
			t.Fatalf("Globals = %v, output %d bytes; want roles", err, out.Len())
		}
		checkChildEnv(t, "pg_dumpall", environ, "/dev/fd/3")
	})
	t.Run("psql", func(t *testing.T) {
		g, conn := gated(t, src)
		sql := strings.NewReader("CREATE TABLE applied_by_psql (id int);")
		environ, err := watchChild(t, g, "psql", src, func() error {
			return ApplySQL(ctx, ApplySQLOptions{Conn: conn, Binary: psql, Server: e.server}, sql)
		})
		if err != nil {
			t.Fatalf("ApplySQL: %v", err)
		}
		if err := e.c.Exec(ctx, src, "SELECT * FROM applied_by_psql"); err != nil {
			t.Errorf("psql's SQL did not run: %v", err)
		}
		checkChildEnv(t, "psql", environ, "/dev/fd/3")
	})
	t.Run("password from PGPASSWORD", func(t *testing.T) {
		// Without a password in the connection, pgsnap's PGPASSWORD is the password, as in
		// libpq, but it reaches pg_dump through the passfile, not its environment.
		g, conn := gated(t, src)
		conn = conn.Without("password")
		t.Setenv("PGPASSWORD", e.c.Password)
		opts := e.dumpOpts(t, e.c.URL(src))
		opts.Conn = conn
		environ, err := watchChild(t, g, "pg_dump", src, func() error { _, err := Dump(ctx, opts, io.Discard); return err })
		if err != nil {
			t.Fatalf("Dump with the password in PGPASSWORD: %v", err)
		}
		checkChildEnv(t, "pg_dump", environ, "/dev/fd/3")
		if bytes.Contains(environ, []byte("PGPASSWORD=")) || bytes.Contains(environ, []byte(e.c.Password)) {
			t.Errorf("pg_dump's environment holds PGPASSWORD or the password")
		}
		// Control: a wrong PGPASSWORD fails, so the one above was used.
		t.Setenv("PGPASSWORD", e.c.Password+"x")
		opts.Conn = mustParse(t, e.c.URL(src)).Without("password")
		_, err = Dump(ctx, opts, io.Discard)
		var ee *ExitError
		if !errors.As(err, &ee) || !strings.Contains(ee.Stderr, "password authentication failed") {
			t.Errorf("Dump with a wrong PGPASSWORD = %v, want a password authentication failure", err)
		}
	})
	t.Run("password file from PGPASSFILE", func(t *testing.T) {
		// pgsnap's PGPASSFILE becomes the passfile keyword; the variable itself stays behind.
		pgpass := filepath.Join(t.TempDir(), "pgpass")
		line := "*:*:*:*:" + strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(e.c.Password) + "\n"
		if err := os.WriteFile(pgpass, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PGPASSWORD", "")
		t.Setenv("PGPASSFILE", pgpass)
		g, conn := gated(t, src)
		opts := e.dumpOpts(t, e.c.URL(src))
		opts.Conn = conn.Without("password")
		environ, err := watchChild(t, g, "pg_dump", src, func() error { _, err := Dump(ctx, opts, io.Discard); return err })
		if err != nil {
			t.Fatalf("Dump with the password in PGPASSFILE: %v", err)
		}
		checkChildEnv(t, "pg_dump", environ, "")
	})
	t.Run("version probe", func(t *testing.T) {
		dir := t.TempDir()
		envFile := filepath.Join(dir, "env")
		path := filepath.Join(dir, "pg_dump")
		script := "#!/bin/sh\nenv -0 > " + envFile + "\necho 'pg_dump (PostgreSQL) 15.4'\n"
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		v, err := BinaryVersion(ctx, path)
		if err != nil || v.Major != 15 {
			t.Fatalf("BinaryVersion = %v, %v; want 15", v, err)
		}
		environ, err := os.ReadFile(envFile)
		if err != nil {
			t.Fatal(err)
		}
		// sh adds PWD (and may add SHLVL, _) itself.
		environ = dropVars(environ, "PWD", "SHLVL", "_", "OLDPWD")
		checkChildEnv(t, "pg_dump --version", environ, "")
	})
}

// dropVars removes the named variables from a NUL-separated environment.
func dropVars(environ []byte, names ...string) []byte {
	var out [][]byte
	for _, kv := range bytes.Split(environ, []byte{0}) {
		name, _, _ := bytes.Cut(kv, []byte("="))
		if !slices.Contains(names, string(name)) {
			out = append(out, kv)
		}
	}
	return bytes.Join(out, []byte{0})
}
