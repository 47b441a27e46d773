package pgsnap_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

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
