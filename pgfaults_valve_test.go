package pgsnap_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// valveProxy forwards TCP connections to target, the server's bytes at about rate bytes per
// second until open is called, then at full speed: a dump lasts long enough to strike in its
// middle, and what the kernel buffered before the strike (megabytes) reaches pg_dump at once
// after it, the server's last words included. pgtest.Throttle cannot be opened.
type valveProxy struct {
	ln     net.Listener
	target string
	rate   int
	opened atomic.Bool
	wg     sync.WaitGroup // every goroutine of the proxy

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]bool
}

func startValve(t *testing.T, target string, rate int) *valveProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &valveProxy{ln: ln, target: target, rate: rate, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		p.closed = true
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// open lets the server's bytes through at full speed from now on; shut slows them again.
func (p *valveProxy) open() { p.opened.Store(true) }
func (p *valveProxy) shut() { p.opened.Store(false) }

func (p *valveProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed by cleanup
		}
		p.wg.Go(func() { p.serve(client) })
	}
}

// track registers conns for cleanup; false (and conns closed) when cleanup already ran.
func (p *valveProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		if p.closed {
			c.Close()
			continue
		}
		p.conns[c] = true
	}
	return !p.closed
}

func (p *valveProxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	// A fixed receive buffer (no autotuning) keeps what waits in the proxy small; the server's
	// send buffer still takes a few MB, which bigDB's table exceeds.
	if tc, ok := server.(*net.TCPConn); ok {
		tc.SetReadBuffer(32 << 10)
	}
	closeBoth := func() {
		client.Close()
		server.Close()
	}
	p.wg.Go(func() {
		io.Copy(server, client)
		closeBoth()
	})
	defer closeBoth()
	buf := make([]byte, 16<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
			if !p.opened.Load() {
				time.Sleep(time.Duration(n) * time.Second / time.Duration(p.rate))
			}
		}
		if err != nil {
			return
		}
	}
}
