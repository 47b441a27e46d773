package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultStatusTimeout bounds one call of [Options.Status] when Options.StatusTimeout is zero.
const DefaultStatusTimeout = 5 * time.Second

// Options configure [New].
type Options struct {
	// Status returns the current status. Required. It is called once per request and once
	// per scrape, from the serving goroutines, possibly concurrently, with a context bounded
	// by StatusTimeout: it should read in-memory state, not the store. Its error text is
	// shown to (authenticated) clients.
	Status func(ctx context.Context) (Status, error)

	// Registerer receives the collector behind the pgsnap_* metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Gatherer is served at /metrics; nil means /metrics answers 404. Usually the registry
	// that is also the Registerer, with the Go and process collectors added by the caller.
	Gatherer prometheus.Gatherer

	// Auth guards every endpoint except /healthz; the zero value guards nothing.
	Auth Auth

	Logger        *slog.Logger     // nil discards
	Clock         func() time.Time // nil means time.Now; freshness is judged against it
	StatusTimeout time.Duration    // bound of one Status call; zero means DefaultStatusTimeout
}

type server struct {
	status  func(ctx context.Context) (Status, error)
	auth    Auth
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
	page    *pageRenderer
}

// New returns the handler serving:
//
//	GET /healthz      200 "ok" when every target's scheduler loop is alive, else 503 + JSON
//	GET /readyz       200 when every target is fresh, else 503; JSON body both ways
//	GET /metrics      Prometheus exposition of Options.Gatherer (404 when nil)
//	GET /             status page (HTML, refreshes itself every 30 s)
//	GET /status.json  the status page as JSON (see Report.MarshalJSON)
//	GET /static/...   the page's stylesheet and icon
//
// Every endpoint but /healthz requires Options.Auth when set. The handler holds no
// goroutines; it is safe for concurrent use.
func New(o Options) (http.Handler, error) {
	if o.Status == nil {
		return nil, errors.New("new status handler: Options.Status is nil")
	}
	if err := o.Auth.validate(); err != nil {
		return nil, fmt.Errorf("new status handler: %w", err)
	}
	s := &server{status: o.Status, auth: o.Auth, log: o.Logger, now: o.Clock, timeout: o.StatusTimeout}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.timeout <= 0 {
		s.timeout = DefaultStatusTimeout
	}
	page, err := newPageRenderer()
	if err != nil {
		return nil, fmt.Errorf("new status handler: %w", err)
	}
	s.page = page
	if o.Registerer != nil {
		c := newCollector(s.current, s.log, s.timeout)
		if err := o.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	guarded := http.NewServeMux()
	guarded.HandleFunc("GET /readyz", s.readyz)
	guarded.HandleFunc("GET /status.json", s.statusJSON)
	guarded.HandleFunc("GET /{$}", s.statusPage)
	static, err := fs.Sub(assets, "web/static")
	if err != nil {
		return nil, fmt.Errorf("new status handler: %w", err)
	}
	guarded.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	if o.Gatherer != nil {
		guarded.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
			ErrorLog:      promLogger{s.log},
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
	mux.Handle("/", s.guard(guarded))
	return securityHeaders(mux), nil
}

// current calls Status with the handler's bound and stamps it with the handler's clock.
func (s *server) current(ctx context.Context) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	st, err := s.status(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("read status: %w", err)
	}
	st.Now = s.now()
	return st, nil
}

func (s *server) guard(next http.Handler) http.Handler {
	if !s.auth.enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.auth.allows(r) {
			s.log.Debug("request unauthorized", "path", r.URL.Path, "remote", r.RemoteAddr)
			s.auth.challenge(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	st, err := s.current(r.Context())
	if err != nil {
		s.log.Warn("health check", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, healthBody{Error: err.Error(), Targets: []probeTarget{}})
		return
	}
	body := healthBody{Healthy: true, Targets: []probeTarget{}}
	for _, t := range st.Targets {
		alive := t.Alive
		pt := probeTarget{Name: t.Name, Alive: &alive, Reason: "scheduler running"}
		if !alive {
			pt.Reason = "scheduler loop not running"
			body.Healthy = false
		}
		body.Targets = append(body.Targets, pt)
	}
	if !body.Healthy {
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	st, err := s.current(r.Context())
	if err != nil {
		s.log.Warn("readiness check", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Error: err.Error(), Targets: []probeTarget{}})
		return
	}
	rep := Summarize(st)
	body := readyBody{Ready: rep.Ready, Targets: []probeTarget{}}
	for _, tr := range rep.Targets {
		fresh := tr.Verdict.Fresh
		body.Targets = append(body.Targets, probeTarget{
			Name: tr.Target.Name, State: tr.Verdict.State, Fresh: &fresh, Reason: tr.Verdict.Reason,
		})
	}
	code := http.StatusOK
	if !rep.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

func (s *server) statusJSON(w http.ResponseWriter, r *http.Request) {
	st, err := s.current(r.Context())
	if err != nil {
		s.log.Warn("status", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, Summarize(st))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "encode status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// contentSecurityPolicy allows the page its own stylesheet and icon and nothing else: no
// script at all, no framing, no form posts.
const contentSecurityPolicy = "default-src 'self'; script-src 'none'; object-src 'none'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// promLogger hands promhttp's error log to slog.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn("serve metrics", "err", fmt.Sprint(v...)) }
