package pgsnap_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
	"github.com/pgsnap/pgsnap/schedule"
)

// Fault tests of the PostgreSQL side (RELIABILITY.md T6 to T10): the server down, lost, frozen
// or refusing, each on a cluster of the test's own.

// ownTarget is a scheduler of one database of an own cluster, with its store, log and handler.
type ownTarget struct {
	s   *pgsnap.Scheduler
	dir string
	log *syncBuffer
	srv *httptest.Server
}

// startLead is how far ahead of Run's start a test puts its slot: Run looks at the clock only
// after its start-up (destination check, sweep, sync), which takes a moment on a busy machine,
// and a slot already past by then would be tomorrow's.
const startLead = time.Second

// slotSoon is a clock that puts the next 03:00 UTC slot lead from now, and that slot.
func slotSoon(lead time.Duration) (*settableClock, time.Time) {
	slot := schedule.Daily{Hour: 3}.Next(time.Now().Add(time.Hour))
	clock := &settableClock{offset: time.Until(slot.Add(-lead))}
	return clock, slot
}

// newOwnTarget builds a daily 03:00 scheduler of url storing into a fresh directory, logging at
// debug level, with metrics and its handler served.
func newOwnTarget(t *testing.T, url string, tweak func(*pgsnap.Config), opts ...pgsnap.Option) *ownTarget {
	t.Helper()
	cfg := pgsnap.DefaultConfig()
	cfg.DatabaseURL = pgsnap.ConnString(url)
	cfg.Dir = filepath.Join(t.TempDir(), "snapshots")
	cfg.Timeout = time.Minute
	cfg.Enabled = true
	cfg.Schedule = schedule.Daily{Hour: 3}
	cfg.CatchUp = pgsnap.CatchUpSkip
	if tweak != nil {
		tweak(&cfg)
	}
	ot := &ownTarget{dir: cfg.Dir, log: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(ot.log, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	s, err := pgsnap.New(cfg, append([]pgsnap.Option{pgsnap.WithLogger(logger), pgsnap.WithMetrics(reg)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	ot.s, ot.srv = s, httptest.NewServer(h)
	t.Cleanup(ot.srv.Close)
	return ot
}

// run starts the scheduler loop; stop cancels it and waits for Run to return nil.
func (ot *ownTarget) run(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ot.s.Run(ctx) }()
	return sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	})
}

// userURL is the URL of db on c's server as user with password.
func userURL(c *pgtest.Cluster, user, password, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: c.Addr(), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// T10: a wrong password, a role without SELECT on one table, a database that does not exist and
// a pg_hba.conf reject each fail with a message naming the cause, a reason label of their own
// and no password anywhere; retries follow the backoff (a 1 s step: at most 3 attempts in 2 s).
func TestAuthPrivilegeDatabaseHBAFailures(t *testing.T) {
	invariants.Fault(t, "T10")
	c := pgtest.StartOwn(t)
	ctx := t.Context()
	const db = "app"
	if err := c.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	appPW, hbaPW, wrongPW := rand.Text(), rand.Text(), rand.Text()
	setup := `CREATE TABLE open_rows AS SELECT g FROM generate_series(1, 100) g;
		CREATE TABLE secret_rows AS SELECT g FROM generate_series(1, 100) g;
		CREATE ROLE app_user LOGIN PASSWORD '` + appPW + `';
		CREATE ROLE hba_user LOGIN PASSWORD '` + hbaPW + `';
		GRANT SELECT ON open_rows TO app_user;
		GRANT SELECT ON open_rows, secret_rows TO hba_user`
	if err := c.Exec(ctx, db, setup); err != nil {
		t.Fatal(err)
	}
	hba := filepath.Join(c.DataDir, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	// WriteFile keeps the owner (the server's user) of the existing file.
	if err := os.WriteFile(hba, append([]byte("host all hba_user 127.0.0.1/32 reject\n"), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "postgres", "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the postmaster rereads pg_hba.conf on SIGHUP

	cases := []struct {
		name, url, reason string
		mentions          []string
	}{
		{"wrong password", userURL(c, "app_user", wrongPW, db), "auth",
			[]string{"authentication failed for user app_user on " + c.Addr(), "DATABASE_URL"}},
		{"no SELECT on a table", userURL(c, "app_user", appPW, db), "permission",
			[]string{"permission denied for table secret_rows", "app_user", "SNAPSHOT_PG_DUMP_EXCLUDE_TABLES"}},
		{"missing database", userURL(c, "app_user", appPW, "no_such_db"), "no_database",
			[]string{"database no_such_db does not exist on " + c.Addr()}},
		{"pg_hba reject", userURL(c, "hba_user", hbaPW, db), "pg_hba",
			[]string{"does not let user hba_user connect to database app", "pg_hba.conf", c.Addr()}},
	}
	secrets := []string{appPW, hbaPW, wrongPW, c.Password}
	clock, slot := slotSoon(startLead)
	step := time.Second
	targets := make([]*ownTarget, len(cases))
	for i, tc := range cases {
		targets[i] = newOwnTarget(t, tc.url, func(cfg *pgsnap.Config) { cfg.Target = strings.ReplaceAll(tc.name, " ", "-") },
			pgsnap.WithClock(clock.now), pgsnap.WithBackoff(func(int) time.Duration { return step }))
	}
	// All four run side by side for 2 s of the slot.
	slotAt := setClock(clock, slot.Add(-startLead))(slot)
	var stops []func()
	for _, ot := range targets {
		stops = append(stops, ot.run(t))
	}
	time.Sleep(time.Until(slotAt.Add(2 * time.Second)))
	for _, stop := range stops {
		stop()
	}

	messages, reasons := map[string]string{}, map[string]string{}
	named, leaks, maxAttempts := 0, 0, int64(0)
	for i, tc := range cases {
		ot := targets[i]
		st := ot.s.Stats()
		maxAttempts = max(maxAttempts, st.Attempts)
		// A failure at connect takes milliseconds: its retry comes after 1 s. pg_dump's may take
		// longer on a loaded machine.
		least := int64(2)
		if tc.reason == "permission" {
			least = 1
		}
		if st.Attempts < least || st.Attempts > 3 {
			t.Errorf("%s: %d attempts in 2 s with a %v backoff, want %d to 3", tc.name, st.Attempts, step, least)
		}
		if st.Failures[tc.reason] != st.Attempts || st.SnapshotsCommitted != 0 {
			t.Errorf("%s: failures by reason %v of %d attempts, want all %q", tc.name, st.Failures, st.Attempts, tc.reason)
		}
		ok := true
		for _, m := range tc.mentions {
			if !strings.Contains(st.LastError, m) {
				t.Errorf("%s: error %q does not name %q", tc.name, st.LastError, m)
				ok = false
			}
		}
		if ok {
			named++
		}
		messages[firstClause(st.LastError)] = tc.name
		reasons[tc.reason] = tc.name
		// /readyz says why, cause first.
		code, body := get(t, ot.srv, "/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, tc.mentions[0]) {
			t.Errorf("%s: /readyz = %d %q, want 503 naming %q", tc.name, code, body, tc.mentions[0])
		}
		_, metrics := get(t, ot.srv, "/metrics")
		if want := `pgsnap_failures_total{reason="` + tc.reason + `",target=`; !strings.Contains(metrics, want) {
			t.Errorf("%s: /metrics lacks %s", tc.name, want)
		}
		_, status := get(t, ot.srv, "/status.json")
		_, page := get(t, ot.srv, "/")
		for _, out := range []string{ot.log.String(), st.LastError, metrics, status, page, body} {
			for _, pw := range secrets {
				if strings.Contains(out, pw) {
					leaks++
					t.Errorf("%s: a password appears in the output: %.300s", tc.name, out)
				}
			}
		}
		if n := countLines(ot.log.String(), "retry_in=1s"); n != int(st.Attempts) {
			t.Errorf("%s: %d failed attempts logged with their 1 s retry delay, want %d", tc.name, n, st.Attempts)
		}
		invariants.AssertStoreInvariants(t, ot.dir, invariants.Options{Cluster: c, Secrets: secrets})
	}
	if len(messages) != len(cases) || len(reasons) != len(cases) {
		t.Errorf("messages %v, reasons %v: want %d distinct of each", messages, reasons, len(cases))
	}
	invariants.Report(t, "T10 auth/privilege/database/pg_hba: messages name cause %d/%d, distinct reasons %d, password leaks %d, max attempts in 2 s %d (backoff %v)",
		named, len(cases), len(reasons), leaks, maxAttempts, step)
}

// firstClause is an error's text up to its first colon: the cause it names first.
func firstClause(s string) string {
	before, _, _ := strings.Cut(s, ":")
	return before
}

// setClock makes clock read now as at, and returns the real time at which it reads virtual.
func setClock(clock *settableClock, now time.Time) (at func(virtual time.Time) time.Time) {
	clock.mu.Lock()
	defer clock.mu.Unlock()
	clock.offset = time.Until(now)
	offset := clock.offset
	return func(virtual time.Time) time.Time { return virtual.Add(-offset) }
}

// metricValue is the value of the series whose line starts with series in a /metrics body, or
// "" when absent.
func metricValue(body, series string) string {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// tempFiles lists the temporary snapshot files in dir.
func tempFiles(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, ".pgsnap-tmp.*"))
	return m
}

// waitFor polls cond every 20 ms until it holds or limit passes; it reports whether it held.
func waitFor(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// T6: three consecutive failed attempts (server down) leave /healthz at 200 (the loop lives),
// the last-success metric where it was and the failure counter 3 up; /readyz turns 503, with
// the failure as its reason, once the newest snapshot is older than the schedule allows; the
// first success turns it back.
func TestHealthReflectsFailures(t *testing.T) {
	invariants.Fault(t, "T6")
	c := pgtest.StartOwn(t)
	const db = "app"
	if err := c.CreateDatabase(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g"); err != nil {
		t.Fatal(err)
	}
	// Yesterday's snapshot, taken 24 h before the slot; the limit is 24 h + 1 h.
	clock, slot := slotSoon(24 * time.Hour)
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	// The third failure holds the loop in its backoff until the test has looked.
	backoff := func(n int) time.Duration {
		if n >= 3 {
			<-release
		}
		return 200 * time.Millisecond
	}
	ot := newOwnTarget(t, c.URL(db), func(cfg *pgsnap.Config) { cfg.StaleAfter = time.Hour },
		pgsnap.WithClock(clock.now), pgsnap.WithBackoff(backoff))
	if _, err := ot.s.SnapshotNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, metrics := get(t, ot.srv, "/metrics")
	series := func(name string) string { return name + `{target="` + db + `"}` }
	lastSuccess := metricValue(metrics, series("pgsnap_last_success_timestamp_seconds"))
	failures := `pgsnap_failures_total{reason="connection",target="` + db + `"}`

	if err := c.StopServer("fast"); err != nil {
		t.Fatal(err)
	}
	setClock(clock, slot.Add(-startLead))
	stop := ot.run(t)
	defer stop()
	if !waitFor(30*time.Second, func() bool { return ot.s.Stats().AttemptsFailed >= 3 }) {
		t.Fatalf("3 failed attempts did not happen: %+v", ot.s.Stats())
	}
	healthDown, _ := get(t, ot.srv, "/healthz")
	readyFresh, freshBody := get(t, ot.srv, "/readyz") // the newest snapshot is 24 h old: fresh, failing
	clock.add(time.Hour + time.Minute)                 // now 25 h 1 m old: past the limit
	readyLate, lateBody := get(t, ot.srv, "/readyz")
	_, metrics = get(t, ot.srv, "/metrics")
	if healthDown != http.StatusOK {
		t.Errorf("/healthz while failing = %d, want 200 (the loop is alive)", healthDown)
	}
	if readyFresh != http.StatusOK || !strings.Contains(freshBody, "failing") {
		t.Errorf("/readyz while failing, newest snapshot within the limit = %d %s, want 200 failing", readyFresh, freshBody)
	}
	if readyLate != http.StatusServiceUnavailable || !strings.Contains(lateBody, "cannot connect to the server at "+c.Addr()) {
		t.Errorf("/readyz once past the limit = %d %s, want 503 naming the connection failure", readyLate, lateBody)
	}
	if got := metricValue(metrics, series("pgsnap_last_success_timestamp_seconds")); got != lastSuccess {
		t.Errorf("last success while failing = %s, want %s unchanged", got, lastSuccess)
	}
	if got := metricValue(metrics, failures); got != "3" {
		t.Errorf("%s = %q, want 3", failures, got)
	}
	if got := metricValue(metrics, series("pgsnap_scheduler_running")); got != "1" {
		t.Errorf("pgsnap_scheduler_running = %q, want 1", got)
	}

	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	releaseOnce()
	if !waitFor(30*time.Second, func() bool { return ot.s.Stats().SnapshotsCommitted == 2 }) {
		t.Fatalf("no snapshot after the server came back: %+v", ot.s.Stats())
	}
	readyAfter, afterBody := get(t, ot.srv, "/readyz")
	_, metrics = get(t, ot.srv, "/metrics")
	stop()
	if readyAfter != http.StatusOK {
		t.Errorf("/readyz after the first success = %d %s, want 200", readyAfter, afterBody)
	}
	if got := metricValue(metrics, series("pgsnap_last_success_timestamp_seconds")); got == lastSuccess || got == "" {
		t.Errorf("last success after recovery = %q, want newer than %s", got, lastSuccess)
	}
	if got := metricValue(metrics, failures); got != "3" {
		t.Errorf("%s after recovery = %q, want 3", failures, got)
	}
	invariants.Report(t, "T6 health: /healthz %d while failing; /readyz %d after 3 failures within the limit, %d once the newest snapshot passed it; last success unchanged; failures +%s; /readyz %d after the first success",
		healthDown, readyFresh, readyLate, metricValue(metrics, failures), readyAfter)
	invariants.AssertStoreInvariants(t, ot.dir, invariants.Options{Cluster: c, MinComplete: 2})
}

// T7: the server is down at the slot and back about 2 s later. Every attempt is logged with the
// next delay, nothing temporary is written, /readyz says why, and the slot gets exactly one
// snapshot once the server is back.
func TestServerDownAtSlot(t *testing.T) {
	invariants.Fault(t, "T7")
	c := pgtest.StartOwn(t)
	const db = "app"
	if err := c.CreateDatabase(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g"); err != nil {
		t.Fatal(err)
	}
	clock, slot := slotSoon(startLead)
	step := func(n int) time.Duration { return min(time.Duration(n)*200*time.Millisecond, 500*time.Millisecond) }
	ot := newOwnTarget(t, c.URL(db), nil, pgsnap.WithClock(clock.now), pgsnap.WithBackoff(step))
	if err := c.StopServer("fast"); err != nil {
		t.Fatal(err)
	}
	slotAt := setClock(clock, slot.Add(-startLead))(slot) // however long the set-up took
	stop := ot.run(t)
	defer stop()
	var temps []string
	if !waitFor(10*time.Second, func() bool { return ot.s.Stats().AttemptsFailed >= 1 }) {
		t.Fatal("no failed attempt while the server is down")
	}
	readyDown, downBody := get(t, ot.srv, "/readyz")
	for time.Now().Before(slotAt.Add(2 * time.Second)) {
		temps = append(temps, tempFiles(ot.dir)...)
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	failedWhileDown := ot.s.Stats().AttemptsFailed
	var snaps []pgsnap.Snapshot
	waitFor(30*time.Second, func() bool {
		snaps, _ = ot.s.List(t.Context())
		return len(snaps) > 0
	})
	recovered := time.Since(up)
	readyUp, _ := get(t, ot.srv, "/readyz")
	stop()
	st := ot.s.Stats()

	if readyDown != http.StatusServiceUnavailable || !strings.Contains(downBody, "no snapshot yet") ||
		!strings.Contains(downBody, "cannot connect to the server at "+c.Addr()) {
		t.Errorf("/readyz while down = %d %s, want 503 saying no snapshot yet and why", readyDown, downBody)
	}
	if readyUp != http.StatusOK {
		t.Errorf("/readyz after the snapshot = %d, want 200", readyUp)
	}
	if len(temps) != 0 {
		t.Errorf("temporary files while the server was down: %v", temps)
	}
	if len(snaps) != 1 || snaps[0].Slot == nil || !snaps[0].Slot.Equal(slot) {
		t.Fatalf("snapshots = %v, want one for slot %v", snaps, slot)
	}
	logged := countLines(ot.log.String(), `msg="snapshot failed" target=`+db)
	retryLogged := countLines(ot.log.String(), "retry_in=")
	if st.AttemptsFailed < 2 || st.Failures["connection"] != st.AttemptsFailed || logged != int(st.AttemptsFailed) || retryLogged != logged {
		t.Errorf("failed attempts %d (by reason %v), logged %d, with retry_in %d: want at least 2, all connection, each logged with its delay",
			st.AttemptsFailed, st.Failures, logged, retryLogged)
	}
	if st.SnapshotsCommitted != 1 {
		t.Errorf("snapshots committed = %d, want 1", st.SnapshotsCommitted)
	}
	invariants.Report(t, "T7 server down at the slot: attempts before success %d (%d while down), snapshot %.1f s after the server was up (backoff ≤ 500 ms), temp files while down %d, snapshots for the slot %d",
		st.AttemptsFailed, failedWhileDown, recovered.Seconds(), len(temps), len(snaps))
	invariants.AssertStoreInvariants(t, ot.dir, invariants.Options{Cluster: c, MinComplete: 1})
}

// bigDB creates database app on c with about 10 MB of rows and returns a valve in front of c
// (256 KiB/s while closed: a dump lasts half a minute) and the URL of app through it.
func bigDB(t *testing.T, c *pgtest.Cluster) (*valveProxy, string) {
	t.Helper()
	if err := c.CreateDatabase(t.Context(), "app"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(t.Context(), "app", "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 60000) g"); err != nil {
		t.Fatal(err)
	}
	v := startValve(t, c.Addr(), 256<<10)
	return v, strings.Replace(c.URL("app"), c.Addr(), v.ln.Addr().String(), 1)
}

// valveProxy forwards TCP connections to target, the server's bytes at about rate bytes per
// second until open is called, then at full speed: a dump lasts long enough to strike in its
// middle, and what the kernel buffered before the strike (megabytes) reaches pg_dump at once
// after it, the server's last words included. pgtest.Throttle cannot be opened.
type valveProxy struct {
	ln     net.Listener
	target string
	rate   int
	opened atomic.Bool
	wg     sync.WaitGroup // every goroutine of the proxy

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]bool
}

func startValve(t *testing.T, target string, rate int) *valveProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &valveProxy{ln: ln, target: target, rate: rate, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		p.closed = true
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// open lets the server's bytes through at full speed from now on; shut slows them again.
func (p *valveProxy) open() { p.opened.Store(true) }
func (p *valveProxy) shut() { p.opened.Store(false) }

func (p *valveProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed by cleanup
		}
		p.wg.Go(func() { p.serve(client) })
	}
}

// track registers conns for cleanup; false (and conns closed) when cleanup already ran.
func (p *valveProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		if p.closed {
			c.Close()
			continue
		}
		p.conns[c] = true
	}
	return !p.closed
}

func (p *valveProxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	// Small fixed buffers (no autotuning) keep the server from pushing megabytes ahead.
	if tc, ok := server.(*net.TCPConn); ok {
		tc.SetReadBuffer(32 << 10)
	}
	closeBoth := func() {
		client.Close()
		server.Close()
	}
	p.wg.Go(func() {
		io.Copy(server, client)
		closeBoth()
	})
	defer closeBoth()
	buf := make([]byte, 16<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
			if !p.opened.Load() {
				time.Sleep(time.Duration(n) * time.Second / time.Duration(p.rate))
			}
		}
		if err != nil {
			return
		}
	}
}

// copyingBackend waits until pg_dump's session on db (application_name pgsnap) streams a table
// and returns the server pid serving it.
func copyingBackend(t *testing.T, c *pgtest.Cluster, db string) int {
	t.Helper()
	conn, err := c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var pid int
	ok := waitFor(30*time.Second, func() bool {
		err := conn.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity
			WHERE datname = $1 AND application_name = 'pgsnap' AND query LIKE 'COPY %' AND state = 'active' LIMIT 1`, db).Scan(&pid)
		return err == nil
	})
	if !ok {
		t.Fatal("pg_dump never streamed a table")
	}
	return pid
}

// connectionCauses are the words a lost server's failure may carry (see writer's serverCauses).
var connectionCauses = []string{
	"terminating connection due to administrator command",
	"terminating connection due to immediate shutdown command",
	"server closed the connection unexpectedly",
	"the server closed it",
}

// T8: the server is lost in the middle of a dump: pg_ctl stop -m fast, -m immediate, and
// pg_terminate_backend of pg_dump's session. Each fails naming the server-side cause with a
// bounded stderr tail, leaves no temporary file and lists nothing; the next attempt, once the
// server is back, succeeds.
func TestServerLostMidDump(t *testing.T) {
	invariants.Fault(t, "T8")
	c := pgtest.StartOwn(t)
	valve, slowURL := bigDB(t, c)
	directURL := c.URL("app")
	dir := filepath.Join(t.TempDir(), "snapshots")
	same := func(cfg *pgsnap.Config) { cfg.Dir, cfg.Target = dir, "app" }
	modes := []struct {
		name   string
		strike func(t *testing.T, pid int) error
	}{
		{"pg_ctl stop -m fast", func(*testing.T, int) error { return c.StopServer("fast") }},
		{"pg_ctl stop -m immediate", func(*testing.T, int) error { return c.StopServer("immediate") }},
		{"pg_terminate_backend", func(t *testing.T, pid int) error {
			return c.Exec(t.Context(), "postgres", "SELECT pg_terminate_backend($1)", pid)
		}},
	}
	clean, recovered, maxTail := 0, 0, 0
	var causes []string
	for i, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			before := invariants.Snapshot(t, dir)
			valve.shut()
			lost := newOwnTarget(t, slowURL, same)
			done := make(chan error, 1)
			go func() {
				_, err := lost.s.SnapshotNow(t.Context())
				done <- err
			}()
			if err := m.strike(t, copyingBackend(t, c, "app")); err != nil {
				t.Fatal(err)
			}
			valve.open() // what the server sent before the strike arrives at once
			err := <-done
			if err == nil {
				t.Fatal("the snapshot succeeded although the server was lost mid-dump")
			}
			cause := ""
			for _, phrase := range connectionCauses {
				if strings.Contains(err.Error(), phrase) {
					cause = phrase
					break
				}
			}
			causes = append(causes, cause)
			if st := lost.s.Stats(); cause == "" || st.Failures["connection"] != 1 || !strings.HasPrefix(err.Error(), "lost the connection to the server at ") {
				t.Errorf("error %q (reasons %v): want a connection failure naming the server-side cause first", err, st.Failures)
			}
			var ee *dump.ExitError
			if errors.As(err, &ee) {
				maxTail = max(maxTail, len(ee.Stderr))
				if len(ee.Stderr) > 4<<10 {
					t.Errorf("stderr tail of %d bytes, want at most 4 KiB", len(ee.Stderr))
				}
			}
			if temps := tempFiles(dir); len(temps) != 0 {
				t.Errorf("temporary files left: %v", temps)
			}
			if snaps, _ := lost.s.List(t.Context()); len(snaps) != i {
				t.Errorf("%d snapshots listed after the fault, want the %d from before", len(snaps), i)
			} else {
				clean++
			}
			if err := c.StartServer(); err != nil { // a no-op after pg_terminate_backend
				t.Fatal(err)
			}
			// Manual snapshots are named by the second: each mode's gets an hour of its own.
			later := func() time.Time { return time.Now().Add(time.Duration(i) * time.Hour) }
			if _, err := newOwnTarget(t, directURL, same, pgsnap.WithClock(later)).s.SnapshotNow(t.Context()); err != nil {
				t.Errorf("the next attempt after the server came back: %v", err)
			} else {
				recovered++
			}
			invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, Cluster: c, MinComplete: i + 1})
		})
	}
	invariants.Report(t, "T8 server lost mid-dump: stop modes %d/3 no partial listed, %d/3 recovered; causes named %q; stderr tail max %d B",
		clean, recovered, causes, maxTail)
}

// T9 (b, c): a frozen dump is ended by SNAPSHOT_TIMEOUT=5s, whether the server backend serving
// pg_dump or pg_dump itself is SIGSTOPped: pg_dump's process group is killed (SIGKILL works on
// stopped processes), nothing temporary is left, and once the backend is continued no session
// outlives the attempt (INV-3).
func TestFrozenDumpTimesOut(t *testing.T) {
	invariants.Fault(t, "T9")
	invariants.RequireRoot(t) // signals the server's processes, which run as another user
	c := pgtest.StartOwn(t)
	_, slowURL := bigDB(t, c)
	const limit = 5 * time.Second
	freezes := []struct {
		name string
		pid  func(t *testing.T, backend int) int // the process to stop
	}{
		{"backend SIGSTOP", func(_ *testing.T, backend int) int { return backend }},
		{"pg_dump SIGSTOP", func(t *testing.T, _ int) int {
			kids := invariants.ChildProcesses(os.Getpid())
			if len(kids) != 1 {
				t.Fatalf("pg_dump children: %v, want one", kids)
			}
			pid, _, _ := strings.Cut(kids[0], ":")
			n, err := strconv.Atoi(pid)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}},
	}
	var fired []string
	for _, fz := range freezes {
		t.Run(fz.name, func(t *testing.T) {
			ot := newOwnTarget(t, slowURL, func(cfg *pgsnap.Config) { cfg.Timeout = limit })
			if err := os.MkdirAll(ot.dir, 0o700); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				_, err := ot.s.SnapshotNow(t.Context())
				done <- err
			}()
			pid := fz.pid(t, copyingBackend(t, c, "app"))
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			defer syscall.Kill(pid, syscall.SIGCONT) // also when the test fails early
			var err error
			select {
			case err = <-done:
			case <-time.After(limit + 30*time.Second):
				t.Fatalf("the attempt did not end %v after its %v timeout", 30*time.Second, limit)
			}
			took := time.Since(start)
			fired = append(fired, fmt.Sprintf("%s %.1f s", fz.name, took.Seconds()))
			var te *pgsnap.TimeoutError
			if !errors.As(err, &te) || !strings.HasPrefix(err.Error(), "timed out after 5s (SNAPSHOT_TIMEOUT)") || ot.s.Stats().Failures["timeout"] != 1 {
				t.Errorf("SnapshotNow = %v (reasons %v), want a timeout naming SNAPSHOT_TIMEOUT first", err, ot.s.Stats().Failures)
			}
			if took < limit {
				t.Errorf("failed after %v, before the %v limit", took, limit)
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); fz.name == "pg_dump SIGSTOP" && err == nil {
				t.Errorf("pg_dump %d still exists after the timeout", pid)
			}
			// Continue the backend: with its client gone it ends, and no session outlives the
			// attempt.
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
				t.Error(err)
			}
			if names := invariants.AssertStoreInvariants(t, ot.dir, invariants.Options{Cluster: c, Failure: err,
				FailureMentions: []string{"SNAPSHOT_TIMEOUT", "5s"}}); len(names) != 0 {
				t.Errorf("listed %v after the timeout", names)
			}
		})
	}
	invariants.Report(t, "T9b/c frozen dump: overall timeout fired at %s (limit 5 s); children left 0, sessions left 0", strings.Join(fired, ", "))
}
