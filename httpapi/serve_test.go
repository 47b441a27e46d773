package httpapi

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(fds)
}

// waitFDs polls until at most want descriptors are open, or fails after a generous while.
func waitFDs(t *testing.T, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := openFDs(t)
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d open files, want at most %d", what, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startServe runs Serve with the real handler on ln. The returned stop (also run at cleanup)
// ends it and returns Serve's error.
func startServe(t *testing.T, ln net.Listener, h http.Handler, o ServerOptions) (stop func() error) {
	t.Helper()
	if h == nil {
		src, clk := &statusSource{st: fixture()}, &clock{now: t0}
		var err error
		if h, err = New(Options{Status: src.read, Clock: clk.read}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, o) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			cancel()
			err, stopped = <-done, true
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// readUntilClosed reads c until the server closes it; an error means the connection was still
// open at the deadline (or broke some other way).
func readUntilClosed(c net.Conn, deadline time.Time) error {
	if err := c.SetReadDeadline(deadline); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, syscall.ECONNRESET) {
		err = nil // closed by the server, with our request still unread
	}
	return err
}

// 1,000 clients that send headers and never the body (or never the end of the headers) are
// disconnected by the read timeout, at most MaxConns of them held at once; the file
// descriptors return to where they were, and a normal request queued behind them is answered
// once slots free up.
func TestServeClosesStalledRequests(t *testing.T) {
	const (
		conns       = 1000
		maxConns    = 100
		readTimeout = 300 * time.Millisecond
	)
	ln := listen(t)
	addr := ln.Addr().String()
	base := openFDs(t) // the listener included: Serve closes it at the end
	// Every other limit is a minute: only the read timeout can close them in the time allowed.
	stop := startServe(t, ln, nil, ServerOptions{
		ReadTimeout: readTimeout, WriteTimeout: time.Minute, IdleTimeout: time.Minute, MaxConns: maxConns,
	})

	clients := make([]net.Conn, 0, conns)
	var sent time.Time // when the first request went out
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		clients = append(clients, c)
		req := "GET /healthz HTTP/1.1\r\nHost: pgsnap\r\nContent-Length: 4096\r\n\r\n" // the body never comes
		if i%10 == 9 {
			req = "GET /healthz HTTP/1.1\r\nHost: pgsnap\r\n" // the headers never end
		}
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if i == 0 {
			sent = time.Now()
		}
	}
	// Descriptors the server holds: all open ones but the baseline and our clients.
	peak := 0
	sample := func() { peak = max(peak, openFDs(t)-base-len(clients)) }
	sample()

	// A normal request, queued behind all of them.
	type answer struct {
		code int
		body string
		err  error
	}
	normal := make(chan answer, 1)
	go func() {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			normal <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		normal <- answer{resp.StatusCode, string(b), err}
	}()

	deadline := time.Now().Add(30 * time.Second)
	for i, c := range clients {
		if err := readUntilClosed(c, deadline); err != nil {
			t.Fatalf("connection %d not closed by the server: %v", i, err)
		}
		if took := time.Since(sent); i == 0 && took < readTimeout/2 {
			t.Errorf("connection 0 closed after %v: the request did not stall (read timeout %v)", took, readTimeout)
		}
		if i%50 == 0 {
			sample()
		}
	}
	a := <-normal
	if a.err != nil || a.code != http.StatusOK || a.body != "ok\n" {
		t.Errorf("normal request while saturated = %d %q, %v; want 200 \"ok\\n\"", a.code, a.body, a.err)
	}
	// +1: the normal request's own socket may have been open at a sample.
	if peak > maxConns+1 {
		t.Errorf("the server held %d descriptors at once, want at most MaxConns = %d", peak, maxConns)
	}
	// Every server side is closed while our ends are still open...
	waitFDs(t, base+len(clients), "after the server closed every connection")
	// ...and nothing is left once ours are closed too.
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	waitFDs(t, base, "after the clients closed")
	if err := stop(); err != nil {
		t.Errorf("Serve() = %v, want nil after cancel", err)
	}
	waitFDs(t, base-1, "after Serve returned (listener closed)")
}

// An idle keep-alive connection serves several requests, then is closed after the idle
// timeout.
func TestServeClosesIdleKeepAlive(t *testing.T) {
	const idle = 400 * time.Millisecond
	ln := listen(t)
	startServe(t, ln, nil, ServerOptions{IdleTimeout: idle, ReadTimeout: time.Minute, WriteTimeout: time.Minute})

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for i := range 2 {
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: pgsnap\r\n\r\n"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("response %d on one connection: %v", i, err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("response %d = %d (close %v), %v; want 200, kept alive", i, resp.StatusCode, resp.Close, err)
		}
	}
	start := time.Now()
	if err := c.SetReadDeadline(start.Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadByte(); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("idle connection: read = %v, want closed by the server", err)
	}
	if took := time.Since(start); took < idle/2 {
		t.Errorf("idle connection closed after %v, before the idle timeout %v", took, idle)
	}
}

// Headers beyond MaxHeaderBytes are refused.
func TestServeLimitsHeaderSize(t *testing.T) {
	ln := listen(t)
	startServe(t, ln, nil, ServerOptions{MaxHeaderBytes: 1 << 10})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+ln.Addr().String()+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Big", strings.Repeat("x", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB of headers: %d, want 431", resp.StatusCode)
	}
}

// A request in flight when ctx ends is answered; then Serve returns nil and the port is closed.
// One that outlasts ShutdownTimeout is cut off, and Serve says so.
func TestServeShutsDownGracefully(t *testing.T) {
	for _, tc := range []struct {
		name    string
		release bool // the handler finishes within the grace period
	}{{"finishes", true}, {"outlasts", false}} {
		t.Run(tc.name, func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				_, _ = io.WriteString(w, "done")
			})
			ln := listen(t)
			addr := ln.Addr().String()
			stop := startServe(t, ln, h, ServerOptions{ShutdownTimeout: 300 * time.Millisecond})
			got := make(chan error, 1)
			go func() {
				resp, err := http.Get("http://" + addr + "/")
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && string(b) != "done" {
						err = errors.New("body " + string(b))
					}
				}
				got <- err
			}()
			<-entered
			stopped := make(chan error, 1)
			go func() { stopped <- stop() }()
			if tc.release {
				close(release)
			}
			err := <-stopped
			cerr := <-got
			if tc.release && (err != nil || cerr != nil) {
				t.Errorf("Serve() = %v, request: %v; want both nil", err, cerr)
			}
			if !tc.release && (!errors.Is(err, context.DeadlineExceeded) || cerr == nil) {
				t.Errorf("Serve() = %v, request: %v; want the shutdown deadline and a cut-off request", err, cerr)
			}
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				t.Errorf("the port still accepts connections after Serve returned")
			}
		})
	}
}

// The defaults bound a stalled request to 30 s and an idle connection to 60 s.
func TestServeDefaults(t *testing.T) {
	o := ServerOptions{}.withDefaults()
	srv := newServer(context.Background(), http.NotFoundHandler(), o)
	for _, c := range []struct {
		name     string
		got, max time.Duration
	}{
		{"ReadHeaderTimeout", srv.ReadHeaderTimeout, 30 * time.Second},
		{"ReadTimeout", srv.ReadTimeout, 30 * time.Second},
		{"WriteTimeout", srv.WriteTimeout, 60 * time.Second},
		{"IdleTimeout", srv.IdleTimeout, 60 * time.Second},
	} {
		if c.got <= 0 || c.got > c.max {
			t.Errorf("default %s = %v, want more than 0 and at most %v", c.name, c.got, c.max)
		}
	}
	if srv.ReadHeaderTimeout > srv.ReadTimeout {
		t.Errorf("ReadHeaderTimeout %v > ReadTimeout %v", srv.ReadHeaderTimeout, srv.ReadTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 64<<10 {
		t.Errorf("default MaxHeaderBytes = %d, want 1 to 64 KiB", srv.MaxHeaderBytes)
	}
	if o.MaxConns <= 0 || o.MaxConns > 256 {
		t.Errorf("default MaxConns = %d, want 1 to 256", o.MaxConns)
	}
	if o.ShutdownTimeout <= 0 {
		t.Errorf("default ShutdownTimeout = %v, want more than 0", o.ShutdownTimeout)
	}
	short := ServerOptions{ReadTimeout: time.Second}.withDefaults()
	if short.ReadHeaderTimeout != time.Second {
		t.Errorf("ReadHeaderTimeout with ReadTimeout 1s = %v, want 1s", short.ReadHeaderTimeout)
	}
}
