package pgtest

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Throttle starts a TCP proxy on 127.0.0.1:0 that forwards to target ("host:port") and limits
// the server->client direction to about bytesPerSecond (client->server is unthrottled). It
// returns the proxy's "host:port". t.Cleanup closes the listener and every connection and
// waits for all of the proxy's goroutines to end.
func Throttle(t testing.TB, target string, bytesPerSecond int) string {
	t.Helper()
	if bytesPerSecond <= 0 {
		t.Fatalf("Throttle(%q, %d): bytesPerSecond must be positive", target, bytesPerSecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Throttle: listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &proxy{target: target, rate: bytesPerSecond, ln: ln, ctx: ctx, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		cancel()
		_ = ln.Close()
		p.mu.Lock()
		p.closed = true
		for c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return ln.Addr().String()
}

type proxy struct {
	target string
	rate   int // bytes per second, server->client
	ln     net.Listener
	ctx    context.Context // done when the test's cleanup runs
	wg     sync.WaitGroup  // every goroutine of the proxy

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func (p *proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // the listener was closed by cleanup
		}
		p.wg.Go(func() { p.serve(client) })
	}
}

// track registers c for closing at cleanup; false (and c closed) if cleanup already ran.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// serve copies both ways until either side ends, then closes both.
func (p *proxy) serve(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	var d net.Dialer
	server, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil || !p.track(server) {
		return
	}
	defer p.untrack(server)
	p.wg.Go(func() {
		_, _ = io.Copy(server, client)
		// Closing both ends the throttled copy below as well.
		_ = client.Close()
		_ = server.Close()
	})
	p.copyThrottled(client, server)
}

// copyThrottled copies src to dst in chunks of about 1/20 s worth of data, waiting after each
// chunk until the rate allows the next. Idle time earns no credit, so bursts stay small.
func (p *proxy) copyThrottled(dst, src net.Conn) {
	buf := make([]byte, min(max(p.rate/20, 1), 64<<10))
	next := time.Now()
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if now := time.Now(); next.Before(now) {
				next = now
			}
			next = next.Add(time.Duration(n) * time.Second / time.Duration(p.rate))
			if !p.wait(time.Until(next)) {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// wait waits for d, or returns false when the proxy is closed first.
func (p *proxy) wait(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}
