package pgsnap_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsnap/pgsnap"
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

// bigDB creates database app on c with about 4.5 MB of rows (more than the kernel buffers
// between the server and the proxy hold, so the server is still sending when a test strikes)
// and returns a valve in front of c (256 KiB/s while shut: a dump lasts some 20 s) and the URL
// of app through it.
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
