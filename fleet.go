package pgsnap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsnap/pgsnap/httpapi"
	"github.com/pgsnap/pgsnap/internal/pgadmin"
	"github.com/pgsnap/pgsnap/internal/restore"
	"github.com/pgsnap/pgsnap/internal/settings"
)

// Fleet runs a Scheduler for each of many targets in one process, at most MaxConcurrent dumps at
// once. N identical fleets (daemons with the same configuration) share the work with no leader:
// each slot of each target goes to whichever takes the target's lock first, and a fleet whose
// dump slots are busy, or whose target is locked elsewhere, moves on, so losing a daemon only
// moves its next slots to the others. One target's failure never stops the others.
type Fleet struct {
	scheds   []*Scheduler
	log      *slog.Logger
	registry prometheus.Registerer
}

// NewFleet builds the fleet of fc: its targets, and every database of its servers (listed now,
// but those matching a server's Exclude patterns; template databases and ones that refuse
// connections are never targets). opts apply to every Scheduler.
func NewFleet(ctx context.Context, fc FleetConfig, opts ...Option) (*Fleet, error) {
	f := &Fleet{}
	probe := buildOptions(opts)
	f.log, f.registry = probe.log, probe.registerer
	cfgs := append([]Config(nil), fc.Targets...)
	var globals []Config
	for _, srv := range fc.Servers {
		if srv.Globals {
			g := srv.Config
			g.Target = srv.Name + restore.GlobalsSuffix
			globals = append(globals, g)
		}
		if srv.GlobalsOnly {
			continue
		}
		more, err := serverTargets(ctx, srv)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, more...)
	}
	if len(cfgs) == 0 {
		return nil, errors.New("fleet: no target")
	}
	slots := make(chan struct{}, max(fc.MaxConcurrent, 1))
	seen := map[string]bool{}
	for i, cfg := range append(cfgs, globals...) {
		isGlobals := i >= len(cfgs)
		s, err := New(cfg, append(opts, func(o *options) { o.dumpSlots = slots; o.registerer = nil; o.globals = isGlobals })...)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", cfg.Target, err)
		}
		if seen[s.target] {
			return nil, fmt.Errorf("target %s: configured twice", s.target)
		}
		seen[s.target] = true
		f.scheds = append(f.scheds, s)
	}
	return f, nil
}

// Schedulers returns the fleet's schedulers, one per target, in configuration order.
func (f *Fleet) Schedulers() []*Scheduler { return append([]*Scheduler(nil), f.scheds...) }

// Run runs every target's scheduler until ctx ends and returns once all have ended. A target
// that cannot start (its store unusable) is logged and left out; Run fails only when none can.
func (f *Fleet) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, s := range f.scheds {
		wg.Go(func() {
			if err := s.Run(ctx); err != nil {
				s.log.Error("target not started", "err", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("target %s: %w", s.target, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) == len(f.scheds) {
		return errors.Join(errs...)
	}
	return nil
}

// Status describes every target, for the status page, /readyz and /metrics.
func (f *Fleet) Status(ctx context.Context) (httpapi.Status, error) {
	var out httpapi.Status
	for _, s := range f.scheds {
		st, err := s.Status(ctx)
		if err != nil {
			return out, err
		}
		out.Now, out.Version = st.Now, st.Version
		out.Targets = append(out.Targets, st.Targets...)
	}
	return out, nil
}

// Handler serves the fleet's /healthz, /readyz, /metrics and status page, as
// Scheduler.Handler does for one target.
func (f *Fleet) Handler() (http.Handler, error) {
	first := f.scheds[0]
	return newHandler(f.Status, f.registry, first.cfg, f.log, first.o.now)
}

// serverTargets lists a server's databases and makes a target of each one not excluded, named
// <server>.<database>.
func serverTargets(ctx context.Context, srv ServerConfig) ([]Config, error) {
	info, err := srv.Config.DatabaseURL.Parse()
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", srv.Name, err)
	}
	dbs, err := pgadmin.ListDatabases(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("server %s: list databases: %w", srv.Name, err)
	}
	var out []Config
	for _, db := range dbs {
		if excluded(db, srv.Exclude) {
			continue
		}
		cfg := srv.Config
		cfg.DatabaseURL = ConnString(info.With("dbname", db).ConnString())
		cfg.Target = srv.Name + "." + settings.TargetFromDatabase(db)
		out = append(out, cfg)
	}
	return out, nil
}

func excluded(db string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, db); ok {
			return true
		}
	}
	return false
}
