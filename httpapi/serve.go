package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Defaults of [ServerOptions]. A request whose body never comes is cut off after
// DefaultReadTimeout, an idle keep-alive connection after DefaultIdleTimeout.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 32 << 10
	DefaultMaxConns          = 64
	DefaultShutdownTimeout   = 2 * time.Second
)

// ServerOptions bound what one client can hold of a server started by [Serve]. Zero (or
// negative) fields take the Default* values above.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers; it is never longer than
	// ReadTimeout.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers and body: a client that sends
	// headers and never the body it announced is disconnected after it.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response, from the end of the request's headers.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers; larger ones are answered 431.
	MaxHeaderBytes int
	// MaxConns bounds the connections served at once; further ones wait in the kernel's
	// accept queue (holding no file descriptor of this process) until one ends.
	MaxConns int
	// ShutdownTimeout is how long in-flight requests may finish once ctx ends; then their
	// connections are closed.
	ShutdownTimeout time.Duration
	// Logger receives the server's own errors (failed accepts, handler panics); nil discards.
	Logger *slog.Logger
}

func (o ServerOptions) withDefaults() ServerOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.ShutdownTimeout, DefaultShutdownTimeout)
	o.ReadHeaderTimeout = min(o.ReadHeaderTimeout, o.ReadTimeout)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// newServer is the http.Server Serve runs, with o's limits (o already has its defaults).
func newServer(ctx context.Context, h http.Handler, o ServerOptions) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
		// Requests keep ctx's values but not its end: Shutdown lets them finish, and the
		// forced close after ShutdownTimeout cancels them.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// Serve serves h on ln with the limits of o until ctx ends, then shuts down gracefully:
// it stops accepting, lets in-flight requests finish for up to o.ShutdownTimeout, closes
// every connection and returns. It always closes ln. The error is nil after a clean
// shutdown; otherwise it says why serving stopped early or why the shutdown was forced.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, o ServerOptions) error {
	o = o.withDefaults()
	srv := newServer(ctx, h, o)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(netutil.LimitListener(ln, o.MaxConns)) }()

	select {
	case err := <-served:
		// Serve returns early only when accepting fails; it closed ln, Close ends the
		// connections still open.
		return errors.Join(fmt.Errorf("serve http on %s: %w", ln.Addr(), err), srv.Close())
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// Requests outlived the grace period: cut them off.
		err = errors.Join(fmt.Errorf("shut down http server on %s: %w", ln.Addr(), err), srv.Close())
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve http on %s: %w", ln.Addr(), serr))
	}
	return err
}
