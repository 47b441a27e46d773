package notify

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPingOrder(t *testing.T) {
	rec := newRecorder(t, nil)
	p, err := NewPing(rec.URL+"/ping/uuid?rid=7", PingOptions{Backoff: fast})
	if err != nil {
		t.Fatalf("NewPing() error = %v", err)
	}
	run(t, p.Run)
	p.Start()
	p.Success("app-20261124T030000Z")
	p.Start()
	p.Fail("dump: connection refused")
	flush(t, p.Flush)

	var got []string
	for _, r := range rec.requests() {
		got = append(got, r.method+" "+r.path+"?"+r.query+" "+string(r.body))
		if ua := r.header.Get("User-Agent"); ua != "pgsnap" {
			t.Errorf("User-Agent = %q, want pgsnap", ua)
		}
	}
	want := []string{
		"POST /ping/uuid/start?rid=7 ",
		"POST /ping/uuid?rid=7 app-20261124T030000Z",
		"POST /ping/uuid/start?rid=7 ",
		"POST /ping/uuid/fail?rid=7 dump: connection refused",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pings received, in order (-want +got):\n%s", diff)
	}
}

func TestPingRetries(t *testing.T) {
	tests := []struct {
		name     string
		codes    []int
		wantReqs int
		want     Stats
	}{
		{"500 then success", []int{500}, 2, Stats{Delivered: 1}},
		{"two retries by default", []int{500, 502, 503, 504}, 3, Stats{Failed: 1}},
		{"400 is final", []int{http.StatusBadRequest}, 1, Stats{Failed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, statuses(tt.codes...))
			p, err := NewPing(rec.URL, PingOptions{Backoff: fast})
			if err != nil {
				t.Fatal(err)
			}
			run(t, p.Run)
			p.Success("")
			flush(t, p.Flush)
			if got := len(rec.requests()); got != tt.wantReqs {
				t.Errorf("requests = %d, want %d", got, tt.wantReqs)
			}
			if got := p.Stats(); got != tt.want {
				t.Errorf("Stats() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPingBodyBounded(t *testing.T) {
	rec := newRecorder(t, nil)
	p, err := NewPing(rec.URL, PingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	run(t, p.Run)
	p.Fail(strings.Repeat("é", 10000))
	flush(t, p.Flush)
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	if n := len(reqs[0].body); n > maxPingBody || n < maxPingBody-1 {
		t.Errorf("body = %d bytes, want %d (or one less, at a rune boundary)", n, maxPingBody)
	}
	if b := string(reqs[0].body); strings.ToValidUTF8(b, "") != b {
		t.Errorf("truncated body is not valid UTF-8")
	}
}

func TestNewPingRejects(t *testing.T) {
	for _, raw := range []string{"", "hc-ping.com/uuid", "mailto:ops@example.com", "http://u:topsecret@[::1"} {
		_, err := NewPing(raw, PingOptions{})
		if err == nil {
			t.Errorf("NewPing(%q) error = nil, want an error", raw)
		} else if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("NewPing() error %q reveals the password", err)
		}
	}
}
