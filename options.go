package pgsnap

import (
	"io"
	"log/slog"
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/store"
)

// Option changes how New builds a Scheduler and Open a Shelf.
type Option func(*options)

// options are what Options set.
type options struct {
	log        *slog.Logger
	now        func() time.Time
	backoff    func(n int) time.Duration
	progress   Progress
	labels     map[string]string
	dests      []*catalog.Destination
	registerer prometheus.Registerer
	// dumpSlots, shared by a Fleet's schedulers, bounds the dumps running at once; nil: no bound
	dumpSlots chan struct{}
	// globals makes a scheduler take globals snapshots (pg_dumpall --globals-only) of its
	// server instead of database snapshots: a Fleet's <server>.globals target.
	globals bool
}

func buildOptions(opts []Option) options {
	o := options{
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:      time.Now,
		backoff:  DefaultBackoff,
		progress: catalog.NoProgress{},
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithLogger sets the logger (default: discard). pgsnap never sets handlers or the default
// logger; it derives one child per target.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithClock replaces the wall clock (default time.Now). The scheduler re-reads it at least once a
// minute while waiting, so a clock that jumps is noticed.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithBackoff replaces the delay before retrying after the n-th consecutive failure of a slot
// (n starts at 1). The default is 5s, 10s, 20s, 30s, then 60s.
func WithBackoff(delay func(n int) time.Duration) Option {
	return func(o *options) {
		if delay != nil {
			o.backoff = delay
		}
	}
}

// WithStore replaces the store snapshots are kept in (default: the local directory Config.Dir).
func WithStore(st store.Store) Option {
	return func(o *options) {
		if st != nil {
			o.dests = []*catalog.Destination{catalog.ForStore(st)}
		}
	}
}

// WithStores keeps snapshots in several stores at once (replacing the configured destinations):
// one dump feeds them all, each commits on its own, and Sync copies a snapshot to a store that
// missed it.
func WithStores(stores ...store.Store) Option {
	return func(o *options) {
		var dests []*catalog.Destination
		for _, st := range stores {
			if st != nil {
				dests = append(dests, catalog.ForStore(st))
			}
		}
		if len(dests) > 0 {
			o.dests = dests
		}
	}
}

// WithLabels records labels (key=value) in the manifest of every snapshot.
func WithLabels(labels map[string]string) Option {
	return func(o *options) { o.labels = maps.Clone(labels) }
}

// WithProgress reports the progress of snapshots, verification and restores to p (the CLI
// draws a progress bar on a terminal).
func WithProgress(p Progress) Option {
	return func(o *options) {
		if p != nil {
			o.progress = p
		}
	}
}

// WithMetrics registers pgsnap's metrics in reg (never the global registry). When reg is also a
// prometheus.Gatherer (a *prometheus.Registry), Handler serves it at /metrics.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(o *options) { o.registerer = reg }
}

// DefaultBackoff is the retry delay after the n-th consecutive failure: 5s, 10s, 20s, 30s, then
// 60s.
func DefaultBackoff(n int) time.Duration {
	steps := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second}
	if n >= 1 && n <= len(steps) {
		return steps[n-1]
	}
	return time.Minute
}
