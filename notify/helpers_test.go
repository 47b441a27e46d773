package notify

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fast is a backoff that keeps retry tests quick; the schedule itself is tested by value.
var fast = []time.Duration{time.Millisecond}

type recorded struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// recorder is a real HTTP server on loopback that keeps every request and answers with the
// status respond gives for the n-th request (0-based); nil answers 200.
type recorder struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	respond func(n int) int
}

func newRecorder(t *testing.T, respond func(n int) int) *recorder {
	t.Helper()
	rec := &recorder{respond: respond}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		n := len(rec.reqs)
		rec.reqs = append(rec.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		rec.mu.Unlock()
		code := http.StatusOK
		if rec.respond != nil {
			code = rec.respond(n)
		}
		if code == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// statuses answers the listed codes in turn, then 200.
func statuses(codes ...int) func(int) int {
	return func(n int) int {
		if n < len(codes) {
			return codes[n]
		}
		return http.StatusOK
	}
}

// run starts run in a goroutine owned by the test: the cleanup cancels it, waits for it to
// return and checks that it returned nil.
func run(t *testing.T, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}
	})
}

// flush waits, bounded, for everything queued to be handled.
func flush(t *testing.T, f func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
}

// logBuffer is a JSON slog logger writing into a buffer safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
