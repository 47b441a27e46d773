// Command embedded is a small HTTP service that protects its own PostgreSQL database with pgsnap:
// the scheduler runs as one goroutine beside the HTTP server and stops with it.
//
//	DATABASE_URL=postgres://app:secret@localhost/app SNAPSHOT_ENABLED=true \
//	SNAPSHOT_TIME=03:00 SNAPSHOT_RETENTION=7 SNAPSHOT_DIR=/var/lib/app/snapshots go run .
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pgsnap/pgsnap"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		logger.Error("listen", "err", err)
		os.Exit(1)
	}
	if err := serve(ctx, logger, ln); err != nil {
		logger.Error("service stopped", "err", err)
		os.Exit(1)
	}
}

// serve runs the HTTP service and the snapshot scheduler until ctx ends.
func serve(ctx context.Context, logger *slog.Logger, ln net.Listener) error {
	cfg, err := pgsnap.ConfigFromEnv() // DATABASE_URL, SNAPSHOT_*: every problem at once
	if err != nil {
		return err
	}
	// The service's own registry: pgsnap's metrics join the service's, never a global one.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	snapshots, err := pgsnap.New(cfg, pgsnap.WithLogger(logger.With("component", "pgsnap")), pgsnap.WithMetrics(reg))
	if err != nil {
		return err
	}
	backups, err := snapshots.Handler() // /healthz, /readyz, /metrics, status page
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		// Returns nil at once when SNAPSHOT_ENABLED is not true, and after ctx ends otherwise.
		if err := snapshots.Run(ctx); err != nil {
			logger.Error("snapshot scheduler", "err", err)
		}
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("/backups/", http.StripPrefix("/backups", backups))
	mux.HandleFunc("POST /admin/snapshot", func(w http.ResponseWriter, r *http.Request) {
		snap, err := snapshots.SnapshotNow(r.Context())
		if err != nil {
			http.Error(w, "snapshot failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, snap.Name)
	})
	// Timeouts on every phase of a request, so slow or idle clients cannot hold connections;
	// the write timeout leaves room for POST /admin/snapshot, which answers once it is taken.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 5 * time.Minute, IdleTimeout: time.Minute, MaxHeaderBytes: 32 << 10}
	wg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	err = srv.Serve(ln)
	cancel() // Serve can also end on its own: stop the scheduler then too
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
