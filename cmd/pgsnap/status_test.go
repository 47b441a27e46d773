package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

type statusJSON struct {
	Source  string `json:"source"`
	Ready   bool   `json:"ready"`
	Targets []struct {
		Name     string `json:"name"`
		Alive    bool   `json:"alive"`
		State    string `json:"state"`
		Attempts int64  `json:"attempts"`
	} `json:"targets"`
}

// Item 7: pgsnap status tells the truth while the daemon runs. It reads the daemon's own
// figures from /status.json (with the token), says so, and names the target without
// DATABASE_URL; without the token, or once the daemon is stopped, it reads the store, says
// that, and claims nothing the daemon alone knows.
func TestStatusReadsTheRunningDaemon(t *testing.T) {
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g"); err != nil {
		t.Fatal(err)
	}
	addr, dir := freeAddr(t), filepath.Join(t.TempDir(), "snapshots")
	const token = "status-token-1"
	daemon := map[string]string{
		"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_SCHEDULE": "@hourly",
		"SNAPSHOT_HTTP_ADDR": addr, "SNAPSHOT_HTTP_TOKEN": token,
	}
	cmd, _, stderr := pgsnapCmd(t, daemon, "run")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	running := true
	stop := func() {
		if running {
			running = false
			cmd.Process.Signal(syscall.SIGTERM)
			if code, _ := waitExit(t, cmd, time.Now(), shutdownLimit); code != 0 {
				t.Errorf("run after SIGTERM: exit %d\n%s", code, stderr)
			}
		}
	}
	defer stop()
	// Catch-up takes this hour's slot at start-up: ready once it is committed.
	ready := false
	for deadline := time.Now().Add(60 * time.Second); !ready && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
	}
	if !ready {
		t.Fatalf("the daemon took no snapshot:\n%s", stderr)
	}

	// No DATABASE_URL: only where the snapshots are and how to reach the daemon.
	client := map[string]string{"SNAPSHOT_DIR": dir, "SNAPSHOT_HTTP_ADDR": addr, "SNAPSHOT_HTTP_TOKEN": token}
	r := runPgsnap(t, client, "status")
	if r.code != 0 {
		t.Errorf("status while the daemon runs: exit %d, want 0 (fresh)", r.code)
	}
	for _, want := range []string{"source: the daemon at http://" + addr + "/status.json", "\n" + db + ": OK", "schedule       @hourly"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status while the daemon runs lacks %q", want)
		}
	}
	for _, re := range []string{`scheduler\s+running`, `attempts\s+1 `, `last success\s+20\d\d-`} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("status while the daemon runs does not match %s", re)
		}
	}
	if strings.Contains(r.stdout, "STOPPED") || strings.Contains(r.stdout, "stopped") {
		t.Errorf("status claims the running scheduler stopped")
	}
	var js statusJSON
	r = runPgsnap(t, client, "status", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil {
		t.Fatalf("status --json: %v", err)
	}
	if !strings.HasPrefix(js.Source, "the daemon at ") || len(js.Targets) != 1 || js.Targets[0].Name != db ||
		!js.Targets[0].Alive || js.Targets[0].Attempts != 1 || !js.Ready {
		t.Errorf("status --json while the daemon runs = %+v; want the daemon's figures for %s", js, db)
	}

	// Without the token the daemon refuses: the store answers, and says why.
	delete(client, "SNAPSHOT_HTTP_TOKEN")
	r = runPgsnap(t, client, "status")
	checkStoreStatus(t, r, db, "refused the request (401)")

	stop()
	client["SNAPSHOT_HTTP_TOKEN"] = token
	r = runPgsnap(t, client, "status")
	checkStoreStatus(t, r, db, "daemon not reached at http://"+addr)
	t.Logf("status: daemon figures while it runs (attempts 1, running); store figures after 401 and after SIGTERM, target %s named without DATABASE_URL", db)
}

func checkStoreStatus(t *testing.T, r result, db, why string) {
	t.Helper()
	if r.code != 0 {
		t.Errorf("status from the store: exit %d, want 0 (the snapshot is fresh)", r.code)
	}
	for _, want := range []string{"source: the store, without the daemon (", why, "\n" + db + ": OK", "not reached", db + "-"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status from the store lacks %q", want)
		}
	}
	for _, bad := range []string{"STOPPED", "stopped", "last success  never"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("status from the store claims %q", bad)
		}
	}
	if regexp.MustCompile(`attempts\s+0`).MatchString(r.stdout) {
		t.Errorf("status from the store claims 0 attempts")
	}
}

// An empty store with no target named is no fresh backup: exit 1, saying so.
func TestStatusEmptyStoreIsNotFresh(t *testing.T) {
	r := runPgsnap(t, map[string]string{"SNAPSHOT_DIR": t.TempDir()}, "status")
	if r.code != 1 || !strings.Contains(r.stdout, "no snapshot in the store") || !strings.Contains(r.stdout, "source: the store") {
		t.Errorf("status on an empty store: exit %d, stdout %q; want 1 saying the store is empty", r.code, r.stdout)
	}
}
