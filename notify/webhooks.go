package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of [Options] and [PingOptions].
const (
	DefaultTimeout   = 10 * time.Second // per attempt
	DefaultRetries   = 3                // webhooks: after the first attempt
	DefaultRepeat    = time.Hour        // between failure events of one failing streak
	DefaultQueueSize = 100
)

// Options configure [NewWebhooks].
type Options struct {
	URLs []string // where events are POSTed; at least one
	// On lists the kinds to send (KindFailure, KindRecovery, KindSuccess), as
	// SNAPSHOT_WEBHOOK_ON. Empty means failure and recovery.
	On []string
	// Secret keys the HMAC-SHA256 signature; empty sends no signature headers.
	Secret  string
	Timeout time.Duration // per attempt; zero means DefaultTimeout
	// Retries after the first attempt; zero means DefaultRetries, negative means none.
	Retries int
	// Backoff lists the waits before each retry, the last one repeated; empty means 1s, 2s,
	// 4s.
	Backoff []time.Duration
	// Repeat is the least time between two failure events of one target while it keeps
	// failing, so retries every minute do not page every minute. Zero means DefaultRepeat;
	// negative sends every failure.
	Repeat    time.Duration
	QueueSize int          // events waiting for delivery; zero means DefaultQueueSize
	Client    *http.Client // nil: a client of our own that does not follow redirects
	Logger    *slog.Logger // nil discards
	Clock     func() time.Time
}

// Stats count what a Webhooks or Ping did since it was made.
type Stats struct {
	Delivered int64 // requests answered 2xx (per URL)
	Failed    int64 // requests given up after their retries (per URL)
	Dropped   int64 // messages dropped from a full queue
}

type counters struct{ delivered, failed, dropped atomic.Int64 }

func (c *counters) stats() Stats {
	return Stats{Delivered: c.delivered.Load(), Failed: c.failed.Load(), Dropped: c.dropped.Load()}
}

// Webhooks posts events to URLs. A nil *Webhooks is valid and sends nothing, so an owner
// without configured URLs can call it unconditionally. Methods are safe for concurrent use.
type Webhooks struct {
	urls   []*url.URL
	on     map[string]bool
	secret []byte
	repeat time.Duration
	now    func() time.Time
	log    *slog.Logger
	send   sender
	work   worker[Event]
	count  counters

	mu      sync.Mutex
	streaks map[string]*streak // by target: the failures since the last success
}

type streak struct {
	since    time.Time
	failures int
	sent     time.Time // when the last failure event of the streak was sent
}

// NewWebhooks checks o and returns a Webhooks. Nothing is sent until Run runs.
func NewWebhooks(o Options) (*Webhooks, error) {
	var errs []error
	w := &Webhooks{
		on:      map[string]bool{},
		secret:  []byte(o.Secret),
		repeat:  o.Repeat,
		now:     o.Clock,
		log:     o.Logger,
		streaks: map[string]*streak{},
	}
	if len(o.URLs) == 0 {
		errs = append(errs, errors.New("webhooks: no URL"))
	}
	for i, raw := range o.URLs {
		u, err := parseURL(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("webhook %d: %w", i+1, err))
			continue
		}
		w.urls = append(w.urls, u)
	}
	on := o.On
	if len(on) == 0 {
		on = []string{KindFailure, KindRecovery, KindShrink}
	}
	for _, k := range on {
		switch k {
		case KindFailure, KindRecovery, KindSuccess, KindShrink:
			w.on[k] = true
		default:
			errs = append(errs, fmt.Errorf("webhooks: unknown event kind %q (want failure, recovery, success or shrink)", k))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if w.repeat == 0 {
		w.repeat = DefaultRepeat
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	size := o.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	w.send = newSender(o.Client, o.Timeout, o.Retries, DefaultRetries, o.Backoff, w.log)
	w.work = worker[Event]{q: newQueue[Event](size), handle: w.deliver}
	return w, nil
}

// Notify queues ev for every URL when its Kind is enabled in Options.On, filling ID, At and
// Text when empty. It never blocks: when the queue is full the oldest event is dropped and a
// warning logged.
func (w *Webhooks) Notify(ev Event) {
	if w == nil || !w.on[ev.Kind] {
		return
	}
	if ev.ID == "" {
		ev.ID = newID()
	}
	if ev.At.IsZero() {
		ev.At = w.now()
	}
	if ev.Text == "" {
		ev.Text = ev.summary()
	}
	if old, full := w.work.q.push(ev); full {
		w.count.dropped.Add(1)
		w.log.Warn("notification queue full, oldest event dropped",
			"target", old.Target, "kind", old.Kind, "event", old.ID)
	}
}

// Outcome reports one attempt's outcome (ev.Kind KindFailure or KindSuccess) for ev.Target
// and sends what it calls for:
//   - a failure starts or extends the target's failing streak and is sent as a failure
//     event, at most once per Options.Repeat while the streak lasts;
//   - a success that ends a streak is sent as a recovery event (with the streak's Failures
//     and FailingSince), then as a success event.
//
// Each is sent only when its kind is enabled. Any other kind is passed to Notify. Streaks
// live in memory: a restart forgets them.
func (w *Webhooks) Outcome(ev Event) {
	if w == nil {
		return
	}
	if ev.At.IsZero() {
		ev.At = w.now()
	}
	switch ev.Kind {
	case KindFailure:
		if w.failure(&ev) {
			w.Notify(ev)
		}
	case KindSuccess:
		if rec, ok := w.recovered(ev); ok {
			w.Notify(rec)
		}
		w.Notify(ev)
	default:
		w.Notify(ev)
	}
}

// failure records ev in its target's streak and reports whether to send it.
func (w *Webhooks) failure(ev *Event) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.streaks[ev.Target]
	if s == nil {
		s = &streak{since: ev.At}
		w.streaks[ev.Target] = s
	}
	s.failures++
	ev.Failures, ev.FailingSince = s.failures, s.since
	if s.failures > 1 && w.repeat > 0 && ev.At.Sub(s.sent) < w.repeat {
		return false
	}
	s.sent = ev.At
	return true
}

// recovered ends ev.Target's streak, if any, and returns the recovery event for it.
func (w *Webhooks) recovered(ev Event) (Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.streaks[ev.Target]
	if s == nil {
		return Event{}, false
	}
	delete(w.streaks, ev.Target)
	rec := ev
	rec.Kind, rec.ID, rec.Text = KindRecovery, "", ""
	rec.Failures, rec.FailingSince = s.failures, s.since
	return rec, true
}

// Run delivers queued events, one at a time and in order (to all URLs at once), until ctx
// ends; then it returns nil. An event in flight is abandoned when ctx ends; events still
// queued stay for a later Run. Only one Run may run at a time. A nil *Webhooks returns nil
// at once.
func (w *Webhooks) Run(ctx context.Context) error {
	if w == nil {
		return nil
	}
	defer w.send.close()
	left, err := w.work.run(ctx)
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	if left > 0 {
		w.log.Info("webhooks stopped with events undelivered", "events", left)
	}
	return nil
}

// Flush waits until every event queued so far has been handled (delivered or given up), or
// ctx ends. It needs Run running. A one-shot command calls it before it exits.
func (w *Webhooks) Flush(ctx context.Context) error {
	if w == nil {
		return nil
	}
	return w.work.q.flush(ctx)
}

// Stats returns the counts so far.
func (w *Webhooks) Stats() Stats {
	if w == nil {
		return Stats{}
	}
	return w.count.stats()
}

// deliver sends ev to every URL concurrently and returns when all are done, so events reach
// each URL in the order they were queued.
func (w *Webhooks) deliver(ctx context.Context, ev Event) {
	body, err := json.Marshal(ev)
	if err != nil {
		w.log.Error("webhook not delivered", "target", ev.Target, "kind", ev.Kind, "err", err)
		return
	}
	var wg sync.WaitGroup
	for _, u := range w.urls {
		wg.Go(func() { w.post(ctx, u, ev, body) })
	}
	wg.Wait()
}

func (w *Webhooks) post(ctx context.Context, u *url.URL, ev Event, body []byte) {
	attrs := []any{"webhook", redact(u), "target", ev.Target, "kind", ev.Kind, "event", ev.ID}
	attempts, err := w.send.send(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return nil, errors.New("build request")
		}
		h := req.Header
		h.Set("Content-Type", "application/json")
		h.Set("User-Agent", "pgsnap")
		h.Set("X-Pgsnap-Event", ev.Kind)
		h.Set("X-Pgsnap-Delivery", ev.ID)
		if len(w.secret) > 0 {
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			h.Set("X-Pgsnap-Timestamp", ts)
			h.Set("X-Pgsnap-Signature", sign(w.secret, ts, body))
		}
		return req, nil
	}, attrs...)
	switch {
	case err == nil:
		w.count.delivered.Add(1)
		w.log.Debug("webhook delivered", append(attrs, "attempts", attempts)...)
	case ctx.Err() != nil:
		w.log.Info("webhook delivery stopped", attrs...)
	default:
		w.count.failed.Add(1)
		w.log.Error("webhook not delivered", append(attrs, "attempts", attempts, "err", err)...)
	}
}

// sign returns the X-Pgsnap-Signature value for body sent at timestamp ts.
func sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
