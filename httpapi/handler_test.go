package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// serve starts the handler on a loopback listener; src and clk stay settable.
func serve(t *testing.T, o Options) (*httptest.Server, *statusSource, *clock) {
	t.Helper()
	src, clk := &statusSource{st: fixture()}, &clock{now: t0}
	if o.Status == nil {
		o.Status = src.read
	}
	if o.Clock == nil {
		o.Clock = clk.read
	}
	h, err := New(o)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, src, clk
}

type reply struct {
	code   int
	header http.Header
	body   string
}

func get(t *testing.T, url string, auth func(*http.Request)) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return reply{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

func basic(user, pass string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func TestAuth(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	srv, _, _ := serve(t, Options{
		Registerer: reg, Gatherer: reg,
		Auth: Auth{User: "ops", Password: "s3cr@t:/p%w", Token: "tok-123"},
	})
	paths := []string{"/", "/readyz", "/metrics", "/status.json", "/static/status.css", "/nope"}
	tests := []struct {
		name string
		auth func(*http.Request)
		want int // for the guarded paths; /healthz is always 200
	}{
		{"none", nil, http.StatusUnauthorized},
		{"wrong password", basic("ops", "wrong"), http.StatusUnauthorized},
		{"wrong user", basic("root", "s3cr@t:/p%w"), http.StatusUnauthorized},
		{"wrong token", bearer("tok-124"), http.StatusUnauthorized},
		{"basic", basic("ops", "s3cr@t:/p%w"), http.StatusOK},
		{"bearer", bearer("tok-123"), http.StatusOK},
		{"bearer lower case scheme", func(r *http.Request) { r.Header.Set("Authorization", "bearer tok-123") }, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if r := get(t, srv.URL+"/healthz", tt.auth); r.code != http.StatusOK {
				t.Errorf("GET /healthz = %d, want 200 whatever the credentials", r.code)
			}
			for _, p := range paths {
				want := tt.want
				if want == http.StatusOK && p == "/nope" {
					want = http.StatusNotFound
				}
				r := get(t, srv.URL+p, tt.auth)
				if r.code != want {
					t.Errorf("GET %s = %d, want %d", p, r.code, want)
				}
				if r.code == http.StatusUnauthorized {
					got := r.header.Values("WWW-Authenticate")
					wantH := []string{`Basic realm="pgsnap", charset="UTF-8"`, `Bearer realm="pgsnap"`}
					if diff := cmp.Diff(wantH, got); diff != "" {
						t.Errorf("GET %s: WWW-Authenticate mismatch (-want +got):\n%s", p, diff)
					}
					if strings.Contains(r.body, "s3cr@t") || strings.Contains(r.body, "tok-123") {
						t.Errorf("GET %s: 401 body %q reveals a credential", p, r.body)
					}
				}
			}
		})
	}
}

func TestAuthRedacted(t *testing.T) {
	t.Parallel()
	a := Auth{User: "ops", Password: "hunter2", Token: "tok-123"}
	for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a),
		fmt.Sprintf("%v", Options{Auth: a}), a.LogValue().String()} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "tok-123") {
			t.Errorf("formatted Auth %q reveals a secret", s)
		}
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	src := &statusSource{}
	tests := []struct {
		name string
		o    Options
	}{
		{"no status", Options{}},
		{"user without password", Options{Status: src.read, Auth: Auth{User: "ops"}}},
		{"password without user", Options{Status: src.read, Auth: Auth{Password: "x"}}},
		{"colon in user", Options{Status: src.read, Auth: Auth{User: "a:b", Password: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tt.o); err == nil {
				t.Errorf("New(%s) error = nil, want an error", tt.name)
			}
		})
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Status: src.read, Registerer: reg}); err != nil {
		t.Fatalf("New() error = %v", err)
	}
	if _, err := New(Options{Status: src.read, Registerer: reg}); err == nil {
		t.Errorf("New() twice on one registry: error = nil, want a registration error")
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	srv, src, _ := serve(t, Options{})
	if r := get(t, srv.URL+"/healthz", nil); r.code != http.StatusOK || r.body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 \"ok\\n\"", r.code, r.body)
	}

	st := fixture()
	st.Targets[0].Alive = false
	src.set(st)
	r := get(t, srv.URL+"/healthz", nil)
	var body healthBody
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("GET /healthz body %q: %v", r.body, err)
	}
	alive := false
	want := healthBody{Targets: []probeTarget{{Name: "app", Alive: &alive, Reason: "scheduler loop not running"}}}
	if r.code != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz with a stopped loop = %d, want 503", r.code)
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("GET /healthz body mismatch (-want +got):\n%s", diff)
	}

	src.fail(errors.New("scheduler gone"))
	if r := get(t, srv.URL+"/healthz", nil); r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, "scheduler gone") {
		t.Errorf("GET /healthz with a failing Status = %d %q, want 503 naming the error", r.code, r.body)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	fresh := fixture()
	none := fixture()
	none.Targets[0].LastSuccess, none.Targets[0].Snapshots = time.Time{}, nil
	none.Targets[0].LastFailure = time.Time{}
	failing := fixture()
	failing.Targets[0].LastFailure = t0.Add(-time.Minute)
	failingLate := failing

	yes, no := true, false
	tests := []struct {
		name     string
		st       Status
		now      time.Time
		wantCode int
		want     readyBody
	}{
		{"before the first snapshot", none, t0, 503, readyBody{Targets: []probeTarget{
			{Name: "app", State: StateNone, Fresh: &no, Reason: "no snapshot yet"}}}},
		{"fresh", fresh, t0, 200, readyBody{Ready: true, Targets: []probeTarget{
			{Name: "app", State: StateOK, Fresh: &yes, Reason: "newest snapshot 8h58m ago, limit 25h"}}}},
		{"late by the clock", fresh, t0.Add(17 * time.Hour), 503, readyBody{Targets: []probeTarget{
			{Name: "app", State: StateLate, Fresh: &no, Reason: "newest snapshot 25h58m ago, limit 25h"}}}},
		{"failing, still fresh", failing, t0, 200, readyBody{Ready: true, Targets: []probeTarget{
			{Name: "app", State: StateFailing, Fresh: &yes,
				Reason: "last attempt failed 1m ago: dump: pg_dump: connection refused; newest snapshot 8h58m ago, limit 25h"}}}},
		{"failing and late", failingLate, t0.Add(17 * time.Hour), 503, readyBody{Targets: []probeTarget{
			{Name: "app", State: StateFailing, Fresh: &no,
				Reason: "newest snapshot 25h58m ago, limit 25h; last attempt failed 17h1m ago: dump: pg_dump: connection refused"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, src, clk := serve(t, Options{})
			src.set(tt.st)
			clk.set(tt.now)
			r := get(t, srv.URL+"/readyz", nil)
			if r.code != tt.wantCode {
				t.Errorf("GET /readyz = %d, want %d", r.code, tt.wantCode)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("GET /readyz Content-Type = %q, want application/json", ct)
			}
			var got readyBody
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatalf("GET /readyz body %q: %v", r.body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET /readyz body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusJSON(t *testing.T) {
	t.Parallel()
	srv, _, _ := serve(t, Options{})
	r := get(t, srv.URL+"/status.json", nil)
	if r.code != http.StatusOK {
		t.Fatalf("GET /status.json = %d, want 200", r.code)
	}
	golden(t, "status.json", []byte(r.body))
}

func TestMetricsAbsentWithoutGatherer(t *testing.T) {
	t.Parallel()
	srv, _, _ := serve(t, Options{})
	if r := get(t, srv.URL+"/metrics", nil); r.code != http.StatusNotFound {
		t.Errorf("GET /metrics without a Gatherer = %d, want 404", r.code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	srv, _, _ := serve(t, Options{})
	for _, p := range []string{"/", "/healthz", "/readyz", "/status.json", "/static/status.css"} {
		r := get(t, srv.URL+p, nil)
		if r.code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", p, r.code)
		}
		for h, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": contentSecurityPolicy,
			"X-Frame-Options":         "DENY",
		} {
			if got := r.header.Get(h); got != want {
				t.Errorf("GET %s: %s = %q, want %q", p, h, got, want)
			}
		}
	}
	if r := get(t, srv.URL+"/static/status.css", nil); !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") {
		t.Errorf("GET /static/status.css Content-Type = %q, want text/css", r.header.Get("Content-Type"))
	}
}
