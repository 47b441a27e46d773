package pgsnap

import (
	"io"
	"log/slog"
	"time"

	"github.com/pgsnap/pgsnap/store"
)

// Option changes how New builds a Scheduler.
type Option func(*Scheduler)

// WithLogger sets the logger (default: discard). pgsnap never sets handlers or the default
// logger; it derives one child per target.
func WithLogger(l *slog.Logger) Option {
	return func(s *Scheduler) {
		if l != nil {
			s.log = l
		}
	}
}

// WithClock replaces the wall clock (default time.Now). The scheduler re-reads it at least once a
// minute while waiting, so a clock that jumps is noticed.
func WithClock(now func() time.Time) Option {
	return func(s *Scheduler) {
		if now != nil {
			s.now = now
		}
	}
}

// WithBackoff replaces the delay before retrying after the n-th consecutive failure of a slot
// (n starts at 1). The default is 5s, 10s, 20s, 30s, then 60s.
func WithBackoff(delay func(n int) time.Duration) Option {
	return func(s *Scheduler) {
		if delay != nil {
			s.backoff = delay
		}
	}
}

// WithStore replaces the store snapshots are kept in (default: the local directory Config.Dir).
func WithStore(st store.Store) Option {
	return func(s *Scheduler) {
		if st != nil {
			s.dests = []*destination{{name: st.String(), st: st}}
		}
	}
}

// WithStores keeps snapshots in several stores at once (replacing the configured destinations):
// one dump feeds them all, each commits on its own, and Sync copies a snapshot to a store that
// missed it.
func WithStores(stores ...store.Store) Option {
	return func(s *Scheduler) {
		var dests []*destination
		for _, st := range stores {
			if st != nil {
				dests = append(dests, &destination{name: st.String(), st: st})
			}
		}
		if len(dests) > 0 {
			s.dests = dests
		}
	}
}

// WithLabels records labels (key=value) in the manifest of every snapshot.
func WithLabels(labels map[string]string) Option {
	return func(s *Scheduler) {
		s.labels = make(map[string]string, len(labels))
		for k, v := range labels {
			s.labels[k] = v
		}
	}
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

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
