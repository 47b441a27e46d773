package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/httpapi"
)

func (a *app) runCmd() *cobra.Command {
	return reads(&cobra.Command{
		Use:   "run",
		Short: "Run the scheduler: a snapshot at every slot of the schedule until stopped",
		Long: `Run the scheduler until SIGINT or SIGTERM: at every slot it takes a snapshot, retries a
failed one after 5s, 10s, 20s, 30s, then every 60s until the next slot is due, and keeps the newest
SNAPSHOT_RETENTION snapshots.

Running the daemon is the opt-in, so SNAPSHOT_ENABLED defaults to true here; an explicit
SNAPSHOT_ENABLED=false logs that and exits 0. It fails at once when SNAPSHOT_DIR is not writable.
On SIGTERM it stops pg_dump, removes the temporary file and exits 0.

It serves, on SNAPSHOT_HTTP_ADDR (default 127.0.0.1:9187; off turns it off): /healthz (the
scheduler loop runs), /readyz (200 while the newest snapshot is younger than the schedule's
interval plus SNAPSHOT_STALE_AFTER, else 503 with the reason), /metrics (Prometheus), and a status
page at /.`,
		Example: `  DATABASE_URL=postgres://backup@db/app SNAPSHOT_DIR=/snapshots pgsnap run
  SNAPSHOT_SCHEDULE='0 */6 * * *' SNAPSHOT_S3_URL=s3://backups/app pgsnap run
  curl -s localhost:9187/readyz`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			if path, ok := a.lookup("SNAPSHOT_CONFIG"); ok && path != "" {
				return a.runFleet(cmd.Context(), path, reg)
			}
			cfg, err := a.config(true)
			if err != nil {
				return err
			}
			if !cfg.Enabled {
				a.log.Info("snapshots disabled by SNAPSHOT_ENABLED=false; exiting")
				return nil
			}
			s, err := pgsnap.New(cfg, pgsnap.WithLogger(a.log), pgsnap.WithMetrics(reg))
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			var wg sync.WaitGroup
			defer wg.Wait()
			if cfg.HTTPAddr != pgsnap.HTTPOff {
				stop, err := a.serveHTTP(ctx, s, cfg.HTTPAddr, &wg)
				if err != nil {
					return err
				}
				defer stop()
			}
			return s.Run(ctx)
		},
	}, "DATABASE_URL", "SNAPSHOT_TIME", "SNAPSHOT_SCHEDULE", "SNAPSHOT_RETENTION", "SNAPSHOT_DIR", "SNAPSHOT_S3_URL",
		"SNAPSHOT_HTTP_ADDR", "SNAPSHOT_DRILL_SCHEDULE", "SNAPSHOT_WEBHOOK_URL", "SNAPSHOT_CONFIG", "and every other")
}

// runFleet runs every target of a configuration file, serving their endpoints together.
func (a *app) runFleet(ctx context.Context, path string, reg *prometheus.Registry) error {
	f, err := a.fleet(path, true, pgsnap.WithMetrics(reg))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if addr := f.Schedulers()[0].Config().HTTPAddr; addr != pgsnap.HTTPOff {
		h, err := f.Handler()
		if err != nil {
			return err
		}
		stop, err := a.serve(ctx, h, addr, &wg)
		if err != nil {
			return err
		}
		defer stop()
	}
	a.log.Info("fleet started", "targets", len(f.Schedulers()))
	return f.Run(ctx)
}

// serveHTTP serves the scheduler's handler on addr until stop is called or ctx ends. A port
// that cannot be bound is an error at start-up, naming the setting.
func (a *app) serveHTTP(ctx context.Context, s *pgsnap.Scheduler, addr string, wg *sync.WaitGroup) (stop func(), err error) {
	h, err := s.Handler()
	if err != nil {
		return nil, err
	}
	return a.serve(ctx, h, addr, wg)
}

// serve serves h on addr until stop is called or ctx ends, with httpapi.Serve's limits.
func (a *app) serve(ctx context.Context, h http.Handler, addr string, wg *sync.WaitGroup) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("SNAPSHOT_HTTP_ADDR=%q: %w", addr, err)
	}
	a.log.Info("serving /healthz, /readyz, /metrics and the status page", "addr", ln.Addr().String())
	ctx, stop = context.WithCancel(ctx)
	wg.Go(func() {
		if err := httpapi.Serve(ctx, ln, h, httpapi.ServerOptions{Logger: a.log}); err != nil {
			a.log.Error("http server stopped", "err", err)
		}
	})
	return stop, nil
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{cobra.NoArgs(cmd, args)}
	}
	return nil
}

// exactArgs wants n positional arguments, described by what in the usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %s", cmd.Name(), what)}
		}
		return nil
	}
}
