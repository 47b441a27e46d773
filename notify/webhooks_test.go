package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

var at = time.Date(2026, 11, 24, 3, 0, 5, 0, time.UTC)

func newWebhooks(t *testing.T, o Options) *Webhooks {
	t.Helper()
	if o.Backoff == nil {
		o.Backoff = fast
	}
	w, err := NewWebhooks(o)
	if err != nil {
		t.Fatalf("NewWebhooks() error = %v", err)
	}
	return w
}

func TestWebhookRequest(t *testing.T) {
	rec := newRecorder(t, nil)
	const secret = "hmac-key"
	w := newWebhooks(t, Options{URLs: []string{rec.URL + "/hook"}, Secret: secret})
	run(t, w.Run)

	w.Notify(Event{Kind: KindFailure, Target: "app", Snapshot: "app-20261124T030000Z", Reason: "dump",
		Error: "dump: exit status 1", At: at, Duration: 1500 * time.Millisecond, Attempt: 2})
	flush(t, w.Flush)

	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	r := reqs[0]
	for h, want := range map[string]string{
		"Content-Type": "application/json", "User-Agent": "pgsnap", "X-Pgsnap-Event": "failure",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if r.method != http.MethodPost || r.path != "/hook" {
		t.Errorf("request = %s %s, want POST /hook", r.method, r.path)
	}

	// The receiver's check, written independently of sign().
	ts := r.header.Get("X-Pgsnap-Timestamp")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(r.body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := r.header.Get("X-Pgsnap-Signature"); ts == "" || !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("X-Pgsnap-Signature = %q (timestamp %q), want %q", got, ts, want)
	}

	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	id, _ := body["id"].(string)
	if len(id) != 24 || r.header.Get("X-Pgsnap-Delivery") != id {
		t.Errorf("id = %q, X-Pgsnap-Delivery = %q; want the same 24 hex digits", id, r.header.Get("X-Pgsnap-Delivery"))
	}
	delete(body, "id")
	wantBody := map[string]any{
		"kind": "failure", "target": "app", "snapshot": "app-20261124T030000Z", "reason": "dump",
		"error": "dump: exit status 1", "at": "2026-11-24T03:00:05Z", "duration_seconds": 1.5,
		"attempt": 2.0, "text": "pgsnap: snapshot of app failed: dump: exit status 1",
	}
	if diff := cmp.Diff(wantBody, body); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
}

func TestWebhookUnsignedWithoutSecret(t *testing.T) {
	rec := newRecorder(t, nil)
	w := newWebhooks(t, Options{URLs: []string{rec.URL}})
	run(t, w.Run)
	w.Notify(Event{Kind: KindFailure, Target: "app"})
	flush(t, w.Flush)
	for _, r := range rec.requests() {
		if r.header.Get("X-Pgsnap-Signature") != "" || r.header.Get("X-Pgsnap-Timestamp") != "" {
			t.Errorf("signature headers sent without a secret: %v", r.header)
		}
	}
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name     string
		codes    []int
		retries  int
		wantReqs int
		want     Stats
	}{
		{"500 then success", []int{500, 503}, 0, 3, Stats{Delivered: 1}},
		{"429 is retried", []int{429}, 0, 2, Stats{Delivered: 1}},
		{"gives up after the retries", []int{500, 500, 500, 500, 500}, 0, 4, Stats{Failed: 1}},
		{"no retries when negative", []int{500}, -1, 1, Stats{Failed: 1}},
		{"400 is final", []int{400}, 0, 1, Stats{Failed: 1}},
		{"404 is final", []int{404}, 0, 1, Stats{Failed: 1}},
		{"redirect is not followed", []int{302}, 0, 1, Stats{Failed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, statuses(tt.codes...))
			w := newWebhooks(t, Options{URLs: []string{rec.URL}, Retries: tt.retries})
			run(t, w.Run)
			w.Notify(Event{Kind: KindFailure, Target: "app"})
			flush(t, w.Flush)
			reqs := rec.requests()
			if len(reqs) != tt.wantReqs {
				t.Errorf("requests = %d, want %d", len(reqs), tt.wantReqs)
			}
			if got := w.Stats(); got != tt.want {
				t.Errorf("Stats() = %+v, want %+v", got, tt.want)
			}
			for _, r := range reqs[1:] {
				if r.header.Get("X-Pgsnap-Delivery") != reqs[0].header.Get("X-Pgsnap-Delivery") {
					t.Errorf("X-Pgsnap-Delivery changed between retries")
				}
			}
		})
	}
}

// closedURL returns a loopback URL on which nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestWebhookNetworkErrorRetriedAndRedacted(t *testing.T) {
	var logs logBuffer
	u := strings.Replace(closedURL(t), "http://", "http://hookuser:hookpass@", 1) + "/services/T0/B0/pathsecret?token=querysecret"
	w := newWebhooks(t, Options{URLs: []string{u}, Retries: 2, Logger: logs.logger()})
	run(t, w.Run)
	w.Notify(Event{Kind: KindFailure, Target: "app"})
	flush(t, w.Flush)
	if got := w.Stats(); got != (Stats{Failed: 1}) {
		t.Errorf("Stats() = %+v, want one failed delivery", got)
	}
	out := logs.String()
	if n := strings.Count(out, "will retry"); n != 2 {
		t.Errorf("logged %d retries, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "webhook not delivered") {
		t.Errorf("log lacks the final error:\n%s", out)
	}
	for _, secret := range []string{"hookuser", "hookpass", "pathsecret", "querysecret"} {
		if strings.Contains(out, secret) {
			t.Errorf("log reveals %q:\n%s", secret, out)
		}
	}
}

func TestNotifyNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	started := 0
	// The receiver accepts the request and never answers until the test ends.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		started++
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })

	var logs logBuffer
	w := newWebhooks(t, Options{URLs: []string{hang.URL}, Timeout: 50 * time.Millisecond, Retries: -1,
		QueueSize: 2, Logger: logs.logger()})
	// Before Run and while the receiver hangs, Notify returns at once: the queue keeps
	// the newest two events and drops the rest.
	for i := range 10 {
		w.Notify(Event{Kind: KindFailure, Target: "app", Attempt: i + 1})
	}
	if got := w.Stats().Dropped; got != 8 {
		t.Errorf("Stats().Dropped = %d, want 8", got)
	}
	run(t, w.Run)
	flush(t, w.Flush) // returns because each attempt is bounded by Timeout
	if got := w.Stats(); got != (Stats{Failed: 2, Dropped: 8}) {
		t.Errorf("Stats() = %+v, want 2 failed, 8 dropped", got)
	}
	if !strings.Contains(logs.String(), "no answer within 50ms") {
		t.Errorf("log lacks the timeout:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "oldest event dropped"); n != 8 {
		t.Errorf("logged %d drops, want 8", n)
	}
}

func TestOutcome(t *testing.T) {
	failure := func(min int) Event {
		return Event{Kind: KindFailure, Target: "app", Error: "boom", At: at.Add(time.Duration(min) * time.Minute)}
	}
	success := func(min int) Event {
		return Event{Kind: KindSuccess, Target: "app", Snapshot: "s", At: at.Add(time.Duration(min) * time.Minute)}
	}
	type sent struct {
		Kind     string
		Failures int
		Since    time.Time
	}
	tests := []struct {
		name     string
		on       []string
		repeat   time.Duration
		outcomes []Event
		want     []sent
	}{
		{
			name:     "failure then recovery",
			outcomes: []Event{failure(0), failure(1), success(2)},
			want:     []sent{{KindFailure, 1, at}, {KindRecovery, 2, at}},
		},
		{
			name:     "success is opt-in",
			on:       []string{KindFailure, KindRecovery, KindSuccess},
			outcomes: []Event{success(0), failure(1), success(2)},
			want: []sent{{KindSuccess, 0, time.Time{}}, {KindFailure, 1, at.Add(time.Minute)},
				{KindRecovery, 1, at.Add(time.Minute)}, {KindSuccess, 0, time.Time{}}},
		},
		{
			name:     "failures repeat after Repeat",
			outcomes: []Event{failure(0), failure(30), failure(61), failure(62), success(63)},
			want:     []sent{{KindFailure, 1, at}, {KindFailure, 3, at}, {KindRecovery, 4, at}},
		},
		{
			name:     "every failure with a negative Repeat",
			repeat:   -1,
			outcomes: []Event{failure(0), failure(1)},
			want:     []sent{{KindFailure, 1, at}, {KindFailure, 2, at}},
		},
		{
			name:     "recovery alone",
			on:       []string{KindRecovery},
			outcomes: []Event{failure(0), success(1), success(2)},
			want:     []sent{{KindRecovery, 1, at}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, nil)
			w := newWebhooks(t, Options{URLs: []string{rec.URL}, On: tt.on, Repeat: tt.repeat})
			for _, ev := range tt.outcomes {
				w.Outcome(ev)
			}
			run(t, w.Run)
			flush(t, w.Flush)
			var got []sent
			for _, r := range rec.requests() {
				var ev Event
				if err := json.Unmarshal(r.body, &ev); err != nil {
					t.Fatalf("body %s: %v", r.body, err)
				}
				got = append(got, sent{ev.Kind, ev.Failures, ev.FailingSince})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events sent, in order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOutcomeTargetsIndependent(t *testing.T) {
	rec := newRecorder(t, nil)
	w := newWebhooks(t, Options{URLs: []string{rec.URL}})
	w.Outcome(Event{Kind: KindFailure, Target: "a", At: at})
	w.Outcome(Event{Kind: KindSuccess, Target: "b", At: at})
	w.Outcome(Event{Kind: KindSuccess, Target: "a", At: at})
	run(t, w.Run)
	flush(t, w.Flush)
	var got []string
	for _, r := range rec.requests() {
		var ev Event
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.Kind+" "+ev.Target)
	}
	if diff := cmp.Diff([]string{"failure a", "recovery a"}, got); diff != "" {
		t.Errorf("events sent (-want +got):\n%s", diff)
	}
}

func TestWebhooksManyURLs(t *testing.T) {
	ok, failing := newRecorder(t, nil), newRecorder(t, statuses(500, 500, 500, 500))
	w := newWebhooks(t, Options{URLs: []string{ok.URL, failing.URL}})
	run(t, w.Run)
	w.Notify(Event{Kind: KindFailure, Target: "app"})
	w.Notify(Event{Kind: KindRecovery, Target: "app"})
	flush(t, w.Flush)
	// The failing URL gives up on the first event (4 attempts) and takes the second.
	if got := w.Stats(); got != (Stats{Delivered: 3, Failed: 1}) {
		t.Errorf("Stats() = %+v, want 3 delivered, 1 failed", got)
	}
	var kinds []string
	for _, r := range ok.requests() {
		kinds = append(kinds, r.header.Get("X-Pgsnap-Event"))
	}
	if diff := cmp.Diff([]string{"failure", "recovery"}, kinds); diff != "" {
		t.Errorf("events at the healthy URL (-want +got):\n%s", diff)
	}
}

func TestNewWebhooksRejects(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no URL", Options{}, "no URL"},
		{"scheme", Options{URLs: []string{"ftp://u:topsecret@host/x"}}, "webhook 1: ftp://host/…: scheme must be http or https"},
		{"no host", Options{URLs: []string{"http:///x"}}, "webhook 1: URL has no host"},
		{"not a URL", Options{URLs: []string{"http://u:topsecret@[::1"}}, "webhook 1: not a valid URL"},
		{"kind", Options{URLs: []string{"http://h"}, On: []string{"failure", "start"}}, `unknown event kind "start"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWebhooks(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewWebhooks() error = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("NewWebhooks() error %q reveals the password", err)
			}
		})
	}
}

func TestNilIsSilent(t *testing.T) {
	var w *Webhooks
	w.Notify(Event{Kind: KindFailure})
	w.Outcome(Event{Kind: KindFailure})
	var p *Ping
	p.Start()
	p.Success("")
	p.Fail("")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, f := range map[string]func(context.Context) error{
		"Webhooks.Run": w.Run, "Webhooks.Flush": w.Flush, "Ping.Run": p.Run, "Ping.Flush": p.Flush,
	} {
		if err := f(ctx); err != nil {
			t.Errorf("nil %s() = %v, want nil", name, err)
		}
	}
	if w.Stats() != (Stats{}) || p.Stats() != (Stats{}) {
		t.Errorf("nil Stats() not zero")
	}
}

func TestRunOnce(t *testing.T) {
	w := newWebhooks(t, Options{URLs: []string{"http://127.0.0.1:9"}})
	run(t, w.Run)
	// The first Run may not have started yet; poll (bounded) until the second is refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // if this Run is accepted, it returns at once
		err := w.Run(ctx)
		if err != nil {
			if !strings.Contains(err.Error(), "already running") {
				t.Errorf("second Run() = %v, want already running", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("second Run() never refused")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRunStopsWithoutLeaks(t *testing.T) {
	rec := newRecorder(t, nil)
	w := newWebhooks(t, Options{URLs: []string{rec.URL}})
	p, err := NewPing(rec.URL, PingOptions{Backoff: fast})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- w.Run(ctx) }()
	go func() { done <- p.Run(ctx) }()
	w.Notify(Event{Kind: KindFailure, Target: "app"})
	p.Fail("boom")
	flush(t, w.Flush)
	flush(t, p.Flush)
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	}
	rec.Close()
	goleak.VerifyNone(t)
}

func TestEventJSONRoundTrip(t *testing.T) {
	ev := Event{ID: "x", Kind: KindRecovery, Target: "app", At: at, Duration: 2500 * time.Millisecond,
		Failures: 3, FailingSince: at.Add(-time.Hour), Destinations: []string{"primary"}, Text: "t"}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ev, got); diff != "" {
		t.Errorf("Event JSON round trip (-want +got):\n%s\njson: %s", diff, b)
	}
}

func TestDefaults(t *testing.T) {
	w, err := NewWebhooks(Options{URLs: []string{"https://hooks.example/x"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPing("https://hc.example/uuid", PingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type defaults struct {
		Timeout time.Duration
		Retries int
		Backoff []time.Duration
	}
	got := []defaults{
		{w.send.timeout, w.send.retries, w.send.backoff},
		{p.send.timeout, p.send.retries, p.send.backoff},
	}
	want := []defaults{
		{10 * time.Second, 3, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{10 * time.Second, 2, []time.Duration{time.Second, 2 * time.Second}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults [webhooks, ping] (-want +got):\n%s", diff)
	}
	if w.repeat != time.Hour || !w.on[KindFailure] || !w.on[KindRecovery] || w.on[KindSuccess] {
		t.Errorf("default Repeat = %v, On = %v; want 1h, failure and recovery", w.repeat, w.on)
	}
}
