package httpapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector turns a Status read at scrape time into constant metrics: the numbers are the
// scheduler's own, so nothing here can drift from what the page shows.
type collector struct {
	status  func(ctx context.Context) (Status, error)
	log     *slog.Logger
	timeout time.Duration
	d       descs
}

type descs struct {
	up, buildInfo                                                *prometheus.Desc
	lastSuccess, lastFailure, lastDuration, lastSize             *prometheus.Desc
	attempts, retries, failures                                  *prometheus.Desc
	nextSlot, dumpRate, fresh, limit, running                    *prometheus.Desc
	snapshots, storedBytes, destFailures, incomplete             *prometheus.Desc
	drillSuccess, drillTimestamp, drillDuration, drills, shrinks *prometheus.Desc
}

func newCollector(status func(ctx context.Context) (Status, error), log *slog.Logger, timeout time.Duration) *collector {
	t, td := []string{"target"}, []string{"target", "destination"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("pgsnap_"+name, help, labels, nil)
	}
	return &collector{status: status, log: log, timeout: timeout, d: descs{
		up:        d("up", "1 when the status could be read for this scrape, else 0 (and no other pgsnap series).", nil),
		buildInfo: d("build_info", "Always 1; the version label names the running pgsnap.", []string{"version"}),

		lastSuccess:  d("last_success_timestamp_seconds", "Unix time the newest committed snapshot finished; 0 when none.", t),
		lastFailure:  d("last_failure_timestamp_seconds", "Unix time the newest failed attempt ended; 0 when none.", t),
		lastDuration: d("last_duration_seconds", "Duration of the newest attempt that committed a snapshot.", t),
		lastSize:     d("last_size_bytes", "Stored size of the newest committed snapshot.", t),
		attempts:     d("attempts_total", "Snapshot attempts since start, retries included.", t),
		retries:      d("retries_total", "Snapshot attempts that retried an earlier failed attempt.", t),
		failures:     d("failures_total", "Failed snapshot attempts by reason.", []string{"target", "reason"}),
		nextSlot:     d("next_slot_timestamp_seconds", "Unix time of the next scheduled slot; absent when none.", t),
		dumpRate:     d("dump_bytes_per_second", "Throughput of the newest dump, bytes of dump output per second.", t),
		fresh:        d("fresh", "1 when the newest snapshot is younger than the freshness limit (as /readyz), else 0.", t),
		limit:        d("freshness_limit_seconds", "Maximum age of the newest snapshot before it is late: schedule interval plus grace.", t),
		running:      d("scheduler_running", "1 while the scheduler loop of the target runs (as /healthz), else 0.", t),

		snapshots:    d("snapshots", "Committed snapshots kept at the destination.", td),
		storedBytes:  d("stored_bytes", "Stored bytes of the snapshots kept at the destination.", td),
		destFailures: d("destination_failures_total", "Snapshots committed elsewhere that failed to reach the destination.", td),
		incomplete:   d("incomplete_snapshots", "Committed snapshots missing at the destination: stored in another destination, not (yet) copied here.", td),

		drillSuccess:   d("drill_success", "1 when the newest restore drill passed, 0 when it failed; absent before the first drill.", t),
		drillTimestamp: d("drill_timestamp_seconds", "Unix time the newest restore drill finished; absent before the first drill.", t),
		drillDuration:  d("drill_duration_seconds", "Duration of the newest restore drill; absent before the first drill.", t),
		drills:         d("drills_total", "Restore drills since start by result (passed, failed).", []string{"target", "result"}),
		shrinks:        d("table_shrink_events_total", "Tables that lost more than SNAPSHOT_SHRINK_ALERT of their rows, or vanished, between two snapshots, since start.", t),
	}}
}

// Describe sends every descriptor the collector may emit.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.d.up, c.d.buildInfo, c.d.lastSuccess, c.d.lastFailure, c.d.lastDuration, c.d.lastSize,
		c.d.attempts, c.d.retries, c.d.failures, c.d.nextSlot, c.d.dumpRate, c.d.fresh, c.d.limit,
		c.d.running, c.d.snapshots, c.d.storedBytes, c.d.destFailures, c.d.incomplete,
		c.d.drillSuccess, c.d.drillTimestamp, c.d.drillDuration, c.d.drills, c.d.shrinks,
	} {
		ch <- d
	}
}

// Collect reads the status once and emits every series from it. A failed read yields
// pgsnap_up 0 alone, so the scrape (and the Go and process metrics) still succeed.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	// Collect has no request context: the timeout alone bounds the read.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.status(ctx)
	e := emitter{ch: ch, log: c.log}
	if err != nil {
		c.log.Warn("collect metrics", "err", err)
		e.gauge(c.d.up, 0)
		return
	}
	e.gauge(c.d.up, 1)
	e.gauge(c.d.buildInfo, 1, st.Version)

	rep := Summarize(st)
	seen := make(map[string]bool, len(rep.Targets))
	for _, tr := range rep.Targets {
		t, v := tr.Target, tr.Verdict
		if seen[t.Name] {
			// Two series with one label set would fail the whole scrape.
			c.log.Warn("collect metrics: duplicate target name, skipped", "target", t.Name)
			continue
		}
		seen[t.Name] = true
		n := t.Name
		e.gauge(c.d.lastSuccess, unixSeconds(v.Newest), n)
		e.gauge(c.d.lastFailure, unixSeconds(t.LastFailure), n)
		e.gauge(c.d.lastDuration, t.LastDuration.Seconds(), n)
		e.gauge(c.d.lastSize, float64(t.LastSize), n)
		e.counter(c.d.attempts, float64(t.Attempts), n)
		e.counter(c.d.retries, float64(t.Retries), n)
		for _, f := range sortedCounts(t.Failures) {
			e.counter(c.d.failures, float64(f.N), n, f.Key)
		}
		if !t.NextSlot.IsZero() {
			e.gauge(c.d.nextSlot, unixSeconds(t.NextSlot), n)
		}
		e.gauge(c.d.dumpRate, t.DumpBytesPerSecond, n)
		e.gauge(c.d.fresh, boolFloat(v.Fresh), n)
		e.gauge(c.d.limit, v.Limit.Seconds(), n)
		e.gauge(c.d.running, boolFloat(t.Alive), n)
		dests := make(map[string]bool, len(t.Destinations))
		for _, d := range t.Destinations {
			if dests[d.Name] {
				c.log.Warn("collect metrics: duplicate destination name, skipped", "target", n, "destination", d.Name)
				continue
			}
			dests[d.Name] = true
			e.gauge(c.d.snapshots, float64(d.Snapshots), n, d.Name)
			e.gauge(c.d.storedBytes, float64(d.Bytes), n, d.Name)
			e.counter(c.d.destFailures, float64(d.Failures), n, d.Name)
			e.gauge(c.d.incomplete, float64(d.Incomplete), n, d.Name)
		}
		if t.Drill != nil {
			e.gauge(c.d.drillSuccess, boolFloat(t.Drill.OK), n)
			e.gauge(c.d.drillTimestamp, unixSeconds(t.Drill.At), n)
			e.gauge(c.d.drillDuration, t.Drill.Duration.Seconds(), n)
		}
		e.counter(c.d.drills, float64(t.DrillsPassed), n, "passed")
		e.counter(c.d.drills, float64(t.DrillsFailed), n, "failed")
		e.counter(c.d.shrinks, float64(t.ShrinkEvents), n)
	}
}

// emitter sends constant metrics, logging (not panicking on) the rare invalid one, such as a
// label value that is not UTF-8.
type emitter struct {
	ch  chan<- prometheus.Metric
	log *slog.Logger
}

func (e emitter) gauge(d *prometheus.Desc, v float64, labels ...string) {
	e.send(d, prometheus.GaugeValue, v, labels)
}

func (e emitter) counter(d *prometheus.Desc, v float64, labels ...string) {
	e.send(d, prometheus.CounterValue, v, labels)
}

func (e emitter) send(d *prometheus.Desc, t prometheus.ValueType, v float64, labels []string) {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		e.log.Warn("collect metrics: series skipped", "metric", d.String(), "err", err)
		return
	}
	e.ch <- m
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
