package soak_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// soakShortSlots is the soak's length in `make test`: a warm-up slot and two measured ones.
const soakShortSlots = 3

// soakTail is how long after a slot the daemon's dump of the soak database is surely over; the
// drift windows start and end at this phase of a minute, so each holds the same dumps.
const soakTail = 20 * time.Second

// soakSlots reads the soak's length from PGSNAP_SOAK (a duration, one slot a minute; `make
// soak` sets 30m); unset, the short form.
func soakSlots(t *testing.T) int {
	t.Helper()
	v := os.Getenv("PGSNAP_SOAK")
	if v == "" {
		return soakShortSlots
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < soakShortSlots*time.Minute {
		t.Fatalf("PGSNAP_SOAK=%q: want a duration of at least %d minutes, such as 30m", v, soakShortSlots)
	}
	return int(d / time.Minute)
}

// sample is one look at the daemon.
type sample struct {
	at         time.Time
	rssKiB     int64
	fds        int
	goroutines int // -1 when /metrics did not answer
}

// sampleDaemon looks at process pid every interval until ctx ends: VmRSS and open descriptors
// from /proc, go_goroutines from its /metrics on addr.
func sampleDaemon(ctx context.Context, pid int, addr string, interval time.Duration) []sample {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var out []sample
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		s := sample{at: time.Now(), goroutines: -1}
		rss, err := procStatusKiB(pid, "VmRSS")
		fds, ferr := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err == nil && ferr == nil {
			s.rssKiB, s.fds = rss, len(fds)
			s.goroutines = scrapeGoroutines(ctx, client, addr)
			out = append(out, s)
		}
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
	}
}

func scrapeGoroutines(ctx context.Context, client *http.Client, addr string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return -1
	}
	resp, err := client.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return int(n)
			}
		}
	}
	return -1
}

// writeLoad moves money between accounts and appends events at about rate transactions a
// second until ctx ends, keeping the events table at most a few tens of thousands of rows so
// the database (and each dump) stays the same size over a long soak. It returns the number of
// transactions committed and the first error.
func writeLoad(ctx context.Context, c *pgtest.Cluster, db string, rate int) (int64, error) {
	conn, err := c.Connect(ctx, db)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var n int64
	for {
		select {
		case <-ctx.Done():
			return n, nil
		case <-tick.C:
		}
		from, to := rand.IntN(1000)+1, rand.IntN(1000)+1
		_, err := conn.Exec(ctx, `WITH debit AS (UPDATE accounts SET balance = balance - 1 WHERE id = $1),
			credit AS (UPDATE accounts SET balance = balance + 1 WHERE id = $2)
			INSERT INTO events (account, amount, note) VALUES ($1, 1, md5(random()::text))`, from, to)
		if err == nil && n%5000 == 4999 {
			_, err = conn.Exec(ctx, "DELETE FROM events WHERE id <= (SELECT max(id) - 20000 FROM events)")
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, nil
			}
			return n, fmt.Errorf("write load after %d transactions: %w", n, err)
		}
		n++
	}
}

// windowStats returns the median and the mean of f over the samples taken in [from, to), leaving
// out negative values (a scrape that failed).
func windowStats(samples []sample, from, to time.Time, f func(sample) float64) (median, mean float64, n int) {
	var vals []float64
	for _, s := range samples {
		if v := f(s); !s.at.Before(from) && s.at.Before(to) && v >= 0 {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return 0, 0, 0
	}
	slices.Sort(vals)
	var sum float64
	for _, v := range vals {
		sum += v
	}
	return vals[len(vals)/2], sum / float64(len(vals)), len(vals)
}

// T38 soak: the real daemon on a one-minute schedule under write load (a few hundred
// transactions a second), for PGSNAP_SOAK (short form: three slots). Its RSS, open
// descriptors and goroutines are sampled throughout. At the end: every slot of the run taken
// exactly once, every listed snapshot verifies, no ERROR logged, no orphans in the store, and
// RSS, descriptors and goroutines flat: over the last third of the run at most 10 % above the
// first third, after a warm-up slot. The thirds are whole minutes at the same phase, so each
// holds as many dumps, and are compared by their medians (see the GOGC note below).
func TestSoakDaemonUnderWriteLoad(t *testing.T) {
	invariants.Fault(t, "T38")
	slots := soakSlots(t)
	interval := 2 * time.Second
	if slots > soakShortSlots {
		interval = 5 * time.Second
	}
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
		INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 1000) g;
		CREATE TABLE events (id bigserial PRIMARY KEY, account int NOT NULL REFERENCES accounts, amount int NOT NULL,
			note text, at timestamptz NOT NULL DEFAULT now());
		CREATE TABLE history AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 50000) g`); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	addr := freeAddr(t)
	env := map[string]string{
		"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_SCHEDULE": "* * * * *",
		"SNAPSHOT_CATCH_UP": "skip", "SNAPSHOT_RETENTION": "1000", "SNAPSHOT_HTTP_ADDR": addr,
		// With the default GOGC a dump's garbage outlives it by minutes: the collector's next
		// goal was set mid-dump and an idle daemon allocates little, so RSS sits at ~26 or ~55
		// MiB for minutes at a time by the phase of its last collection (measured: per-minute
		// means 28-58 MiB with no trend). GOGC=25 makes RSS follow the live heap, which is what
		// a leak grows; it changes no behaviour of pgsnap's.
		"GOGC": "25",
	}

	var wg sync.WaitGroup
	defer wg.Wait() // after stop, below: every goroutine of the test ends with ctx
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var txs atomic.Int64
	var loadErr error
	loadStart := time.Now()
	wg.Go(func() {
		n, err := writeLoad(ctx, c, db, 300)
		txs.Store(n)
		loadErr = err
	})

	// The first slot must be clearly after the daemon's start, so it is surely scheduled.
	if until := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); until < 5*time.Second {
		time.Sleep(until + time.Second)
	}
	cmd, _, stderr := pgsnapCmd(env, "run")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	last := first.Add(time.Duration(slots-1) * time.Minute)
	exited := make(chan struct{})
	var exitCode int
	go func() {
		cmd.Wait()
		exitCode = cmd.ProcessState.ExitCode()
		close(exited)
	}()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if healthy(addr) {
			break
		}
		if time.Now().After(deadline) || time.Now().After(first) {
			t.Fatalf("daemon not healthy before its first slot %v", first)
		}
	}
	var samples []sample
	sampled := make(chan struct{})
	wg.Go(func() {
		defer close(sampled)
		samples = sampleDaemon(ctx, cmd.Process.Pid, addr, interval)
	})
	t.Logf("soak: %d slots from %v to %v, sampling every %v", slots, first.Format(time.TimeOnly), last.Format(time.TimeOnly), interval)

	// Run until the last slot's snapshot is committed and the minute has reached the drift
	// windows' phase, then stop the daemon as an operator would.
	lastManifest := filepath.Join(dir, db+"-"+last.Format("20060102T150405Z")+".json")
	for {
		select {
		case <-exited:
			t.Fatalf("daemon exited early (code %d)", exitCode)
		case <-time.After(time.Second):
		}
		if _, err := os.Stat(lastManifest); err == nil && time.Now().After(last.Add(soakTail)) {
			break
		}
		if time.Now().After(last.Add(time.Minute)) {
			t.Errorf("the last slot's snapshot %s did not appear within a minute", filepath.Base(lastManifest))
			break
		}
	}
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(2 * invariants.ShutdownLimit):
		t.Errorf("daemon did not exit within %v of SIGTERM", 2*invariants.ShutdownLimit)
		cmd.Process.Kill()
		<-exited
	}
	took := time.Since(sent)
	stop()
	<-sampled
	wg.Wait()
	loadSecs := time.Since(loadStart).Seconds()
	if exitCode != 0 {
		t.Errorf("daemon after SIGTERM: exit %d, want 0", exitCode)
	}
	if loadErr != nil {
		t.Errorf("write load: %v", loadErr)
	}
	if strings.Contains(stderr.String(), "level=ERROR") {
		t.Errorf("the daemon logged errors:\n%s", stderr)
	}

	// Every slot taken exactly once, nothing else taken.
	perSlot := map[time.Time]int{}
	var snaps []listed
	if code := runJSON(t, env, &snaps, "list", "--json"); code != 0 {
		t.Errorf("list --json: exit %d", code)
	}
	for _, s := range snaps {
		if s.Slot == nil {
			t.Errorf("manual snapshot %s in a daemon's store", s.Name)
			continue
		}
		perSlot[s.Slot.UTC()]++
	}
	taken := 0
	for slot := first; !slot.After(last); slot = slot.Add(time.Minute) {
		switch n := perSlot[slot]; n {
		case 1:
			taken++
		default:
			t.Errorf("slot %v has %d snapshots, want 1", slot.Format(time.TimeOnly), n)
		}
		delete(perSlot, slot)
	}
	for slot, n := range perSlot {
		t.Errorf("slot %v outside the run has %d snapshots", slot.Format(time.TimeOnly), n)
	}
	good, bad := verifiedGood(t, env)
	if len(bad) > 0 {
		t.Errorf("snapshots that fail verification: %v", bad)
	}

	// Drift: whole minutes after the warm-up slot, at the same phase at both ends, compared by
	// their medians: a dump's garbage lifts RSS for a few seconds at a time wherever the
	// collector happens to run, a leak lifts all of it. The means are reported beside.
	span := time.Duration(max(1, (slots-1)/3)) * time.Minute
	from1, to2 := first.Add(soakTail), last.Add(soakTail)
	type driftFigure struct{ first, last, pct, meanPct float64 }
	drift := func(what string, f func(sample) float64) driftFigure {
		a, am, na := windowStats(samples, from1, from1.Add(span), f)
		b, bm, nb := windowStats(samples, to2.Add(-span), to2, f)
		if na == 0 || nb == 0 || a == 0 || am == 0 {
			t.Errorf("%s: %d samples in the first window and %d in the last, want some in each", what, na, nb)
			return driftFigure{a, b, 0, 0}
		}
		return driftFigure{a, b, (b/a - 1) * 100, (bm/am - 1) * 100}
	}
	rss := drift("RSS", func(s sample) float64 { return float64(s.rssKiB) / 1024 })
	fds := drift("fds", func(s sample) float64 { return float64(s.fds) })
	gor := drift("goroutines", func(s sample) float64 { return float64(s.goroutines) })
	if rss.pct > 10 {
		t.Errorf("RSS grew %.1f %%: median %.1f MiB in the first window, %.1f MiB in the last; want at most 10 %%", rss.pct, rss.first, rss.last)
	}
	if fds.pct > 10 {
		t.Errorf("open descriptors grew %.1f %%: median %.0f in the first window, %.0f in the last; want at most 10 %%", fds.pct, fds.first, fds.last)
	}
	if gor.pct > 10 {
		t.Errorf("goroutines grew %.1f %%: median %.0f in the first window, %.0f in the last; want at most 10 %%", gor.pct, gor.first, gor.last)
	}
	for m := first; m.Before(last.Add(time.Minute)); m = m.Add(time.Minute) {
		med, mean, n := windowStats(samples, m.Add(soakTail-time.Minute), m.Add(soakTail), func(s sample) float64 { return float64(s.rssKiB) / 1024 })
		t.Logf("minute to %v: RSS median %.1f MiB, mean %.1f MiB (%d samples)", m.Add(soakTail).Format(time.TimeOnly), med, mean, n)
	}
	orphans := countOrphans(t, dir)
	if orphans != 0 {
		t.Errorf("%d orphaned objects in the store", orphans)
	}
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, Database: db, DirCreated: true, MinComplete: slots, Shutdown: took})
	invariants.Report(t, "T38 soak %d min under %.0f tx/s: slots taken/expected %d/%d, verified %d/%d, RSS drift %+.1f %% (median %.1f → %.1f MiB; means %+.1f %%), fd drift %+.1f %% (%.0f → %.0f), goroutines drift %+.1f %% (%.0f → %.0f), orphans %d, %d samples",
		slots, float64(txs.Load())/loadSecs, taken, slots, len(good), len(good)+len(bad), rss.pct, rss.first, rss.last, rss.meanPct,
		fds.pct, fds.first, fds.last, gor.pct, gor.first, gor.last, orphans, len(samples))
}

// countOrphans counts what a crashed or leaking writer leaves in a local store: temporary
// files, intent records, and data objects no manifest names.
func countOrphans(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasSuffix(e.Name(), ".check.json") || strings.HasSuffix(e.Name(), ".drill.json") {
			continue
		}
		var m struct {
			Data string `json:"data"`
		}
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && json.Unmarshal(b, &m) == nil {
			named[m.Data] = true
		}
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, ".pgsnap-tmp."), strings.HasSuffix(name, ".intent"):
			n++
		case strings.Contains(name, ".dump") && !named[name]:
			n++
		}
	}
	return n
}
