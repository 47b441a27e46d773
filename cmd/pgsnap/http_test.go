package main

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// The daemon's endpoints as an operator sees them: /healthz at once, /readyz 503 until the first
// snapshot, then 200, and /metrics showing the snapshot.
func TestRunServesHealthReadinessAndMetrics(t *testing.T) {
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g"); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env := map[string]string{
		"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": filepath.Join(t.TempDir(), "snapshots"),
		"SNAPSHOT_SCHEDULE": "* * * * *", "SNAPSHOT_CATCH_UP": "skip", "SNAPSHOT_HTTP_ADDR": addr,
	}
	cmd, _, stderr := pgsnapCmd(t, env, "run")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if code, _ := waitExit(t, cmd, time.Now(), shutdownLimit); code != 0 {
			t.Errorf("run after SIGTERM: exit %d\n%s", code, stderr)
		}
	}()
	base := "http://" + addr
	var code int
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if code, body, err = httpGet(base + "/healthz"); err == nil && code == http.StatusOK {
			break
		}
	}
	if code != http.StatusOK {
		t.Fatalf("/healthz = %d %q, want 200", code, body)
	}
	if code, body, _ := httpGet(base + "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the first snapshot = %d %s, want 503", code, body)
	}
	// The first slot is at most a minute away.
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if code, body, _ = httpGet(base + "/readyz"); code == http.StatusOK {
			break
		}
	}
	if code != http.StatusOK {
		t.Fatalf("/readyz after the first slot = %d %s, want 200\n%s", code, body, stderr)
	}
	_, metrics, _ := httpGet(base + "/metrics")
	for _, want := range []string{"pgsnap_last_success_timestamp_seconds{target=", "pgsnap_snapshots{destination=",
		"pgsnap_next_slot_timestamp_seconds", "pgsnap_fresh{target=\"" + db + "\"} 1", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, page, _ := httpGet(base + "/"); !strings.Contains(page, db+"-") {
		t.Errorf("status page shows no snapshot of %s", db)
	}
}
