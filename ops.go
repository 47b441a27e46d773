package pgsnap

import (
	"context"
	"sync"
	"time"

	"github.com/pgsnap/pgsnap/httpapi"
	"github.com/pgsnap/pgsnap/internal/settings"
	"github.com/pgsnap/pgsnap/notify"
	"github.com/pgsnap/pgsnap/schedule"
)

// catalogTTL bounds how stale the snapshot list behind the status page and metrics may be;
// every commit, prune and drill refreshes it sooner. Listing an S3 store costs requests.
const catalogTTL = time.Minute

// notifier tells webhooks and a dead man's switch how snapshots went.
type notifier struct {
	webhooks *notify.Webhooks // nil when not configured
	ping     *notify.Ping     // nil when not configured

	// The delivery goroutines run while anyone (Run, a SnapshotNow) needs them: the first user
	// starts them, the last stops them.
	mu    sync.Mutex
	users int
	stop  func()
}

func newNotifier(cfg Config, o options) (*notifier, error) {
	n := &notifier{}
	var err error
	if len(cfg.WebhookURLs) > 0 {
		n.webhooks, err = notify.NewWebhooks(notify.Options{URLs: cfg.WebhookURLs, On: cfg.WebhookOn, Secret: cfg.WebhookSecret, Logger: o.log})
		if err != nil {
			return nil, settings.Lookup("SNAPSHOT_WEBHOOK_URL").Problem("", err)
		}
	}
	if cfg.PingURL != "" {
		n.ping, err = notify.NewPing(cfg.PingURL, notify.PingOptions{Logger: o.log})
		if err != nil {
			return nil, settings.Lookup("SNAPSHOT_PING_URL").Problem("", err)
		}
	}
	return n, nil
}

// run delivers notifications until the returned func is called, which waits for that (after
// flushing what is queued, bounded by cleanupTimeout, when flush is set).
func (n *notifier) run(ctx context.Context) (done func(flush bool)) {
	if n.webhooks == nil && n.ping == nil {
		return func(bool) {}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.users == 0 {
		// Delivery outlives the caller's ctx a little (flush); its own ctx ends with the last user.
		nctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		wg.Go(func() { n.webhooks.Run(nctx) })
		wg.Go(func() { n.ping.Run(nctx) })
		n.stop = func() {
			cancel()
			wg.Wait()
		}
	}
	n.users++
	return func(flush bool) {
		if flush {
			fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			n.webhooks.Flush(fctx)
			n.ping.Flush(fctx)
			fcancel()
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.users--; n.users == 0 {
			n.stop()
		}
	}
}

// outcome tells the webhooks and the ping URL how an attempt went. Never blocks.
func (n *notifier) outcome(ev notify.Event, err error) {
	if err != nil {
		ev.Kind, ev.Error, ev.Reason = notify.KindFailure, err.Error(), failureReason(err)
		n.ping.Fail(err.Error())
	} else {
		ev.Kind = notify.KindSuccess
		n.ping.Success(ev.Snapshot)
	}
	n.webhooks.Outcome(ev)
}

// listingCache is a target's snapshot list, kept for catalogTTL.
type listingCache struct {
	mu     sync.Mutex
	snaps  []Snapshot
	listed time.Time
}

func (c *listingCache) invalidate() {
	c.mu.Lock()
	c.listed = time.Time{}
	c.mu.Unlock()
}

// status describes the target for the status page, /readyz and /metrics: the newest snapshots,
// each destination, the counts st, freshness inputs.
func (sh *Shelf) status(st Stats, alive bool, snaps []Snapshot, listErr error) httpapi.Status {
	now := sh.o.now()
	sched := sh.cfg.Schedule
	t := httpapi.Target{
		Name: sh.target, Schedule: sched.String(), NextSlot: sched.Next(now),
		Interval: schedule.Interval(sched, now), StaleAfter: sh.cfg.StaleAfterOrDefault(),
		Alive:       alive,
		LastSuccess: st.LastSuccess, LastFailure: st.LastFailure,
		LastDuration: st.LastDuration, LastSize: st.LastSize, DumpBytesPerSecond: st.DumpBytesPerSecond,
		Attempts: st.Attempts, Retries: st.Retries, Failures: st.Failures,
		DrillsPassed: st.DrillsPassed, DrillsFailed: st.DrillsFailed,
		ShrinkEvents: st.ShrinkEvents,
	}
	for _, sh := range st.Shrinks {
		t.Shrinks = append(t.Shrinks, httpapi.Shrink{Table: sh.Table, Before: sh.Before, After: sh.After,
			Vanished: sh.Vanished, Previous: sh.Previous, Latest: sh.Snapshot, At: sh.At})
	}
	if st.LastFailure.After(st.LastSuccess) {
		t.LastError = st.LastError // not recovered since
	}
	if st.LastDrill != nil {
		t.Drill = drillStatus(st.LastDrill)
	}
	if listErr != nil {
		// The page still shows the rest; the error is what an operator must see first.
		t.LastError = "list snapshots: " + listErr.Error()
	}
	perDest := map[string]*httpapi.Destination{}
	names := sh.cat.Names()
	for _, name := range names {
		perDest[name] = &httpapi.Destination{Name: name, Failures: st.DestinationFailures[name]}
	}
	for _, snap := range snaps {
		if sh.target != "" && snap.Target != sh.target {
			continue
		}
		for _, name := range snap.StoredIn {
			if hd := perDest[name]; hd != nil {
				hd.Snapshots++
				hd.Bytes += snap.StoredSize()
			}
		}
		for _, name := range snap.Missing {
			if hd := perDest[name]; hd != nil {
				hd.Incomplete++
			}
		}
		if len(t.Snapshots) < 10 {
			hs := httpapi.Snapshot{Name: snap.Name, Time: snap.FinishedAt, Size: snap.StoredSize(), Duration: snap.Duration(),
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
	for _, name := range names {
		t.Destinations = append(t.Destinations, *perDest[name])
	}
	return httpapi.Status{Now: now, Version: Version(), Targets: []httpapi.Target{t}}
}

func drillStatus(d *Drill) *httpapi.Drill {
	return &httpapi.Drill{At: d.At, Snapshot: d.Snapshot, OK: d.OK, Error: d.Error, Duration: d.Duration}
}
