package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// hangGuard is how long a test waits for something that must happen "at once" before it
// reports a hang. It is a guard against a stuck test, not a performance assertion.
const hangGuard = 10 * time.Second

func TestDisabledRunReturnsAtOnce(t *testing.T) {
	t.Setenv("SNAPSHOT_ENABLED", "false")
	t.Setenv("DATABASE_URL", "")
	cfg, err := pgsnap.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	s, err := pgsnap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }() // a context that never ends
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Run of a disabled scheduler did not return")
	}
}

func TestServiceSnapshotsAndStops(t *testing.T) {
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 1000) g"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	t.Setenv("DATABASE_URL", c.URL(db))
	t.Setenv("SNAPSHOT_ENABLED", "true")
	t.Setenv("SNAPSHOT_DIR", dir)
	t.Setenv("SNAPSHOT_TIME", time.Now().UTC().Add(-time.Hour).Format("15:04")) // not due during the test
	t.Setenv("SNAPSHOT_CATCH_UP", "skip")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), ln) }()

	resp, err := http.Post("http://"+ln.Addr().String()+"/admin/snapshot", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	name := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /admin/snapshot = %d %s", resp.StatusCode, body)
	}
	for _, f := range []string{name + ".dump.zst", name + ".json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("snapshot file: %v", err)
		}
	}

	// The backups' own endpoints, mounted in the service: fresh now, with metrics.
	for path, want := range map[string]string{"/backups/readyz": `"ready": true`, "/backups/metrics": "pgsnap_last_success_timestamp_seconds"} {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %d, want 200 with %q:\n%.300s", path, resp.StatusCode, want, b)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve = %v, want nil after cancel", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("serve did not stop after cancel")
	}
}
