package pgsnap_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsnap/pgsnap"
)

// settableClock is a wall clock a test moves forward.
type settableClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *settableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *settableClock) add(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /readyz is 503 before the first snapshot and once SNAPSHOT_STALE_AFTER has passed beyond the
// schedule's interval without one, 200 in between; /metrics shows the snapshot.
func TestHandlerReadinessAndMetrics(t *testing.T) {
	f := newFixture(t, "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
	clock := &settableClock{}
	reg := prometheus.NewRegistry()
	cfg := f.config(f.c.URL(f.db))
	cfg.StaleAfter = time.Hour
	s := f.scheduler(t, cfg, pgsnap.WithClock(clock.now), pgsnap.WithMetrics(reg))
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	if code, body := get(t, srv, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no snapshot") {
		t.Errorf("/readyz before any snapshot = %d %s, want 503 saying no snapshot", code, body)
	}
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, srv, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after a snapshot = %d %s, want 200", code, body)
	}
	_, metrics := get(t, srv, "/metrics")
	for _, want := range []string{
		`pgsnap_last_success_timestamp_seconds{target="` + f.db + `"}`,
		`pgsnap_snapshots{destination="local:`,
		`pgsnap_last_size_bytes{target="` + f.db + `"}`,
		`pgsnap_attempts_total{target="` + f.db + `"} 1`,
		`pgsnap_fresh{target="` + f.db + `"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, page := get(t, srv, "/"); !strings.Contains(page, snap.Name) {
		t.Errorf("status page does not show %s", snap.Name)
	}
	clock.add(24*time.Hour + time.Hour + time.Minute)
	if code, body := get(t, srv, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "late") {
		t.Errorf("/readyz after interval+stale without a snapshot = %d %s, want 503 late", code, body)
	}
}

// A failed snapshot posts a signed "failure" event, the next good one a "recovery", to a real
// HTTP server on loopback; the ping URL sees start, fail, start, success.
func TestWebhooksAndPing(t *testing.T) {
	f := newFixture(t, "CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g")
	var mu sync.Mutex
	var events, pings []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/hook" {
			if !strings.HasPrefix(r.Header.Get("X-Pgsnap-Signature"), "sha256=") {
				t.Errorf("webhook without signature header")
			}
			for _, kind := range []string{"failure", "recovery", "success"} {
				if strings.Contains(string(b), `"kind":"`+kind+`"`) || strings.Contains(string(b), `"kind": "`+kind+`"`) {
					events = append(events, kind)
				}
			}
		} else {
			pings = append(pings, r.URL.Path)
		}
	}))
	defer hook.Close()
	cfg := f.config(f.c.URL(f.db))
	cfg.WebhookURLs = []string{hook.URL + "/hook"}
	cfg.WebhookSecret = "s3cret-hmac"
	cfg.PingURL = hook.URL + "/ping/abc"
	// The database appears only after the first attempt: failure, then recovery.
	later := f.db + "_later"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), later) })
	cfg.DatabaseURL = pgsnap.ConnString(f.c.URL(later))
	s := f.scheduler(t, cfg)
	if _, err := s.SnapshotNow(t.Context()); err == nil {
		t.Fatal("snapshot of a missing database succeeded")
	}
	if err := f.c.CreateDatabase(t.Context(), later); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SnapshotNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(events, " ") != "failure recovery" {
		t.Errorf("webhook events = %v, want failure then recovery", events)
	}
	if want := []string{"/ping/abc/start", "/ping/abc/fail", "/ping/abc/start", "/ping/abc"}; strings.Join(pings, " ") != strings.Join(want, " ") {
		t.Errorf("pings = %v, want %v", pings, want)
	}
}
