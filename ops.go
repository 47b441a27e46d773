package pgsnap

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsnap/pgsnap/httpapi"
	"github.com/pgsnap/pgsnap/notify"
	"github.com/pgsnap/pgsnap/schedule"
)

// catalogTTL bounds how stale the snapshot list behind the status page and metrics may be;
// every commit, prune and drill refreshes it sooner. Listing an S3 store costs requests.
const catalogTTL = time.Minute

// ops is what a Scheduler keeps for operators: notifiers, liveness, a cached listing.
type ops struct {
	webhooks *notify.Webhooks // nil when not configured
	ping     *notify.Ping     // nil when not configured
	running  atomic.Bool      // Run's loop is alive

	// The notifiers' delivery goroutines run while anyone (Run, a SnapshotNow) needs them:
	// the first user starts them, the last stops them.
	notifyMu    sync.Mutex
	notifyUsers int
	notifyStop  func()

	mu       sync.Mutex
	listed   []Snapshot
	listedAt time.Time
}

// WithMetrics registers pgsnap's metrics in reg (never the global registry). When reg is also a
// prometheus.Gatherer (a *prometheus.Registry), Handler serves it at /metrics.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(s *Scheduler) { s.registerer = reg }
}

func (s *Scheduler) newNotifiers() error {
	var err error
	if len(s.cfg.WebhookURLs) > 0 {
		s.ops.webhooks, err = notify.NewWebhooks(notify.Options{
			URLs: s.cfg.WebhookURLs, On: s.cfg.WebhookOn, Secret: s.cfg.WebhookSecret, Logger: s.log,
		})
		if err != nil {
			return lookupSetting("SNAPSHOT_WEBHOOK_URL").error("", err)
		}
	}
	if s.cfg.PingURL != "" {
		s.ops.ping, err = notify.NewPing(s.cfg.PingURL, notify.PingOptions{Logger: s.log})
		if err != nil {
			return lookupSetting("SNAPSHOT_PING_URL").error("", err)
		}
	}
	return nil
}

// runNotifiers delivers notifications until ctx ends; the returned func waits for that (after
// flushing what is queued, bounded by cleanupTimeout, when flush is set).
func (s *Scheduler) runNotifiers(ctx context.Context) (done func(flush bool)) {
	if s.ops.webhooks == nil && s.ops.ping == nil {
		return func(bool) {}
	}
	s.ops.notifyMu.Lock()
	defer s.ops.notifyMu.Unlock()
	if s.ops.notifyUsers == 0 {
		// Delivery outlives the caller's ctx a little (flush); its own ctx ends with the last user.
		nctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		wg.Go(func() { s.ops.webhooks.Run(nctx) })
		wg.Go(func() { s.ops.ping.Run(nctx) })
		s.ops.notifyStop = func() {
			cancel()
			wg.Wait()
		}
	}
	s.ops.notifyUsers++
	return func(flush bool) {
		if flush {
			fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			s.ops.webhooks.Flush(fctx)
			s.ops.ping.Flush(fctx)
			fcancel()
		}
		s.ops.notifyMu.Lock()
		defer s.ops.notifyMu.Unlock()
		if s.ops.notifyUsers--; s.ops.notifyUsers == 0 {
			s.ops.notifyStop()
		}
	}
}

// notifyStart pings the dead man's switch's /start.
func (s *Scheduler) notifyStart() { s.ops.ping.Start() }

// notifyOutcome tells the webhooks and the ping URL how an attempt went. Never blocks.
func (s *Scheduler) notifyOutcome(snap Snapshot, err error) {
	s.invalidateListing()
	ev := notify.Event{Kind: notify.KindSuccess, Target: s.target, Snapshot: snap.Name, At: s.now().UTC(),
		Duration: snap.Duration(), Size: snap.Size, Destinations: snap.StoredIn, Missing: snap.Missing}
	if err != nil {
		ev.Kind, ev.Error, ev.Reason = notify.KindFailure, err.Error(), failureReason(err)
		s.ops.ping.Fail(err.Error())
	} else {
		s.ops.ping.Success(snap.Name)
	}
	s.ops.webhooks.Outcome(ev)
}

func (s *Scheduler) invalidateListing() {
	s.ops.mu.Lock()
	s.ops.listedAt = time.Time{}
	s.ops.mu.Unlock()
}

// listing is List, cached for catalogTTL.
func (s *Scheduler) listing(ctx context.Context) ([]Snapshot, error) {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	if !s.ops.listedAt.IsZero() && s.now().Sub(s.ops.listedAt) < catalogTTL {
		return s.ops.listed, nil
	}
	cat, err := s.catalog(ctx, s.target)
	if err != nil {
		return s.ops.listed, err
	}
	s.ops.listed, s.ops.listedAt = cat.snaps, s.now()
	return cat.snaps, nil
}

// Status describes this scheduler for the status page, /readyz and /metrics: the newest
// snapshots, each destination, the counts since start, freshness inputs.
func (s *Scheduler) Status(ctx context.Context) (httpapi.Status, error) {
	now := s.now()
	st := s.Stats()
	t := httpapi.Target{
		Name: s.target, Schedule: s.sched.String(), NextSlot: s.sched.Next(now),
		Interval: schedule.Interval(s.sched, now), StaleAfter: s.cfg.staleAfter(),
		Alive:       s.ops.running.Load(),
		LastSuccess: st.LastSuccess, LastFailure: st.LastFailure,
		LastDuration: st.LastDuration, LastSize: st.LastSize, DumpBytesPerSecond: st.DumpBytesPerSecond,
		Attempts: st.Attempts, Retries: st.Retries, Failures: st.Failures,
		DrillsPassed: st.DrillsPassed, DrillsFailed: st.DrillsFailed,
	}
	if st.LastFailure.After(st.LastSuccess) {
		t.LastError = st.LastError // not recovered since
	}
	if st.LastDrill != nil {
		t.Drill = drillStatus(st.LastDrill)
	}
	snaps, err := s.listing(ctx)
	if err != nil && ctx.Err() == nil {
		// The page still shows the rest; the error is what an operator must see first.
		t.LastError = "list snapshots: " + err.Error()
	}
	perDest := map[string]*httpapi.Destination{}
	for _, d := range s.dests {
		hd := &httpapi.Destination{Name: d.name, Failures: st.DestinationFailures[d.name]}
		perDest[d.name] = hd
	}
	for _, snap := range snaps {
		if s.target != "" && snap.Target != s.target {
			continue
		}
		for _, name := range snap.StoredIn {
			if hd := perDest[name]; hd != nil {
				hd.Snapshots++
				hd.Bytes += snap.Size
			}
		}
		for _, name := range snap.Missing {
			if hd := perDest[name]; hd != nil {
				hd.Incomplete++
			}
		}
		if len(t.Snapshots) < 10 {
			hs := httpapi.Snapshot{Name: snap.Name, Time: snap.FinishedAt, Size: snap.Size, Duration: snap.Duration(),
				Checks: []string{CheckChecksum, CheckTOC}, Missing: snap.Missing, Labels: snap.Labels}
			if snap.Drill != nil {
				hs.Drill = drillStatus(snap.Drill)
			}
			t.Snapshots = append(t.Snapshots, hs)
		}
		if t.Drill == nil && snap.Drill != nil {
			t.Drill = drillStatus(snap.Drill)
		}
	}
	for _, d := range s.dests {
		t.Destinations = append(t.Destinations, *perDest[d.name])
	}
	return httpapi.Status{Now: now, Version: Version(), Targets: []httpapi.Target{t}}, ctx.Err()
}

func drillStatus(d *Drill) *httpapi.Drill {
	return &httpapi.Drill{At: d.At, Snapshot: d.Snapshot, OK: d.OK, Error: d.Error, Duration: d.Duration}
}

// Handler serves /healthz (the scheduler loop is alive), /readyz (a snapshot newer than the
// schedule's interval plus SNAPSHOT_STALE_AFTER exists), /metrics (with WithMetrics and a
// registry), the status page at / and /status.json. SNAPSHOT_HTTP_USER and
// SNAPSHOT_HTTP_PASSWORD, or SNAPSHOT_HTTP_TOKEN, protect all but /healthz. Mount it in the host
// server; call it once.
func (s *Scheduler) Handler() (http.Handler, error) {
	o := httpapi.Options{
		Status:     s.Status,
		Registerer: s.registerer,
		Auth:       httpapi.Auth{User: s.cfg.HTTPUser, Password: s.cfg.HTTPPassword, Token: s.cfg.HTTPToken},
		Logger:     s.log,
		Clock:      s.now,
	}
	if g, ok := s.registerer.(prometheus.Gatherer); ok {
		o.Gatherer = g
	}
	return httpapi.New(o)
}
