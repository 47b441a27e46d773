package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of [PingOptions].
const (
	DefaultPingTimeout = 10 * time.Second
	DefaultPingRetries = 2
	// maxPingBody bounds the text sent with a ping (healthchecks.io keeps 100 kB).
	maxPingBody = 10000
)

// PingOptions configure [NewPing].
type PingOptions struct {
	Timeout time.Duration // per attempt; zero means DefaultPingTimeout
	// Retries after the first attempt; zero means DefaultPingRetries, negative means none.
	Retries int
	// Backoff lists the waits before each retry, the last one repeated; empty means 1s, 2s.
	Backoff   []time.Duration
	QueueSize int          // pings waiting; zero means DefaultQueueSize
	Client    *http.Client // nil: a client of our own that does not follow redirects
	Logger    *slog.Logger // nil discards
}

// Ping is a dead-man's switch in the style of healthchecks.io: an external monitor expects a
// ping after every run and alerts when none comes. Start posts to URL/start, Success to URL,
// Fail to URL/fail; the query of URL is kept. Each is a POST whose text/plain body (at most
// 10 kB) shows in the monitor's log.
//
// The methods never block: the ping is queued and sent by Run, in order. A nil *Ping is
// valid and sends nothing. Methods are safe for concurrent use.
type Ping struct {
	url   *url.URL
	send  sender
	work  worker[ping]
	count counters
	log   *slog.Logger
}

type ping struct {
	signal string // "start", "success", "fail"
	body   string
}

// NewPing checks rawURL and returns a Ping. Nothing is sent until Run runs.
func NewPing(rawURL string, o PingOptions) (*Ping, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	p := &Ping{url: u, log: o.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultPingTimeout
	}
	if len(o.Backoff) == 0 {
		o.Backoff = []time.Duration{time.Second, 2 * time.Second}
	}
	size := o.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	p.send = newSender(o.Client, o.Timeout, o.Retries, DefaultPingRetries, o.Backoff, p.log)
	p.work = worker[ping]{q: newQueue[ping](size), handle: p.deliver}
	return p, nil
}

// Start reports that a run began (URL/start); the monitor can then measure its duration and
// alert on a run that never ends.
func (p *Ping) Start() { p.queue(ping{signal: "start"}) }

// Success reports a run that succeeded (URL); msg, e.g. the snapshot's name, goes in the body.
func (p *Ping) Success(msg string) { p.queue(ping{signal: "success", body: msg}) }

// Fail reports a run that failed (URL/fail); msg, the error free of secrets, goes in the body.
func (p *Ping) Fail(msg string) { p.queue(ping{signal: "fail", body: msg}) }

func (p *Ping) queue(pg ping) {
	if p == nil {
		return
	}
	if old, full := p.work.q.push(pg); full {
		p.count.dropped.Add(1)
		p.log.Warn("ping queue full, oldest ping dropped", "ping", redact(p.url), "signal", old.signal)
	}
}

// Run sends queued pings in order until ctx ends; then it returns nil. Only one Run may run
// at a time. A nil *Ping returns nil at once.
func (p *Ping) Run(ctx context.Context) error {
	if p == nil {
		return nil
	}
	defer p.send.close()
	left, err := p.work.run(ctx)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if left > 0 {
		p.log.Info("ping stopped with pings unsent", "pings", left)
	}
	return nil
}

// Flush waits until every ping queued so far has been handled, or ctx ends. It needs Run
// running.
func (p *Ping) Flush(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.work.q.flush(ctx)
}

// Stats returns the counts so far.
func (p *Ping) Stats() Stats {
	if p == nil {
		return Stats{}
	}
	return p.count.stats()
}

func (p *Ping) deliver(ctx context.Context, pg ping) {
	u := p.url
	if pg.signal != "success" {
		u = u.JoinPath(pg.signal)
	}
	body := pg.body
	if len(body) > maxPingBody {
		body = strings.ToValidUTF8(body[:maxPingBody], "")
	}
	attrs := []any{"ping", redact(p.url), "signal", pg.signal}
	_, err := p.send.send(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(body))
		if err != nil {
			return nil, errors.New("build request")
		}
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		req.Header.Set("User-Agent", "pgsnap")
		return req, nil
	}, attrs...)
	switch {
	case err == nil:
		p.count.delivered.Add(1)
		p.log.Debug("ping sent", attrs...)
	case ctx.Err() != nil:
		p.log.Info("ping stopped", attrs...)
	default:
		p.count.failed.Add(1)
		p.log.Warn("ping not sent", append(attrs, "err", err)...)
	}
}
