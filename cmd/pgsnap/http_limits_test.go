package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/httpapi"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// pidFDs counts the open file descriptors of process pid.
func pidFDs(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot count the daemon's open files: %v", err)
	}
	return len(fds)
}

// pgsnap run serves its endpoints through httpapi.Serve: 300 clients that send headers and
// never the body hold at most DefaultMaxConns of the daemon's descriptors; once they go, the
// daemon's descriptors are back where they were and /healthz still answers. (The timeouts
// themselves are tested with short values in httpapi; the daemon's are 30 s and 60 s.)
func TestRunBoundsHTTPConnections(t *testing.T) {
	const conns = 300
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	addr := freeAddr(t)
	env := map[string]string{
		"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": filepath.Join(t.TempDir(), "snapshots"),
		"SNAPSHOT_SCHEDULE": "0 0 1 1 *", "SNAPSHOT_CATCH_UP": "skip", "SNAPSHOT_HTTP_ADDR": addr,
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
	waitHealthy := func() {
		t.Helper()
		var code int
		var body string
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if code, body, err = httpGet(base + "/healthz"); err == nil && code == http.StatusOK {
				return
			}
		}
		t.Fatalf("/healthz = %d %q, %v; want 200\n%s", code, body, err, stderr)
	}
	waitHealthy()
	http.DefaultClient.CloseIdleConnections()
	pid := cmd.Process.Pid
	before := pidFDs(t, pid) // the daemon's own files vary by a few: slack below

	clients := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		clients = append(clients, c)
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: pgsnap\r\nContent-Length: 4096\r\n\r\n"); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	// The daemon accepts up to its limit at once; watch it for a while.
	peak := 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		peak = max(peak, pidFDs(t, pid)-before)
	}
	const slack = 8 // the scheduler's own files, a status read
	if peak > httpapi.DefaultMaxConns+slack {
		t.Errorf("the daemon held %d more descriptors with %d stalled clients, want at most %d (DefaultMaxConns) + %d",
			peak, conns, httpapi.DefaultMaxConns, slack)
	}
	if peak < httpapi.DefaultMaxConns/2 {
		t.Errorf("the daemon took only %d more descriptors with %d stalled clients: did it accept them at all?", peak, conns)
	}

	for _, c := range clients {
		c.Close()
	}
	clients = nil
	deadline := time.Now().Add(20 * time.Second)
	for pidFDs(t, pid) > before+slack {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon still holds %d descriptors after the clients left, %d before", pidFDs(t, pid), before)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitHealthy()
}
