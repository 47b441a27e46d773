package s3test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Match selects the requests a fault applies to.
type Match func(r *http.Request) bool

// Any matches every request.
func Any(*http.Request) bool { return true }

// PartUpload matches multipart part uploads (PUT with a partNumber).
func PartUpload(r *http.Request) bool {
	return r.Method == http.MethodPut && r.URL.Query().Has("partNumber")
}

// CompleteUpload matches CompleteMultipartUpload (POST with an uploadId).
func CompleteUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}

// ObjectPut matches single-request object uploads (PUT /bucket/key without a query).
func ObjectPut(r *http.Request) bool {
	return r.Method == http.MethodPut && r.URL.RawQuery == "" && strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1
}

// ObjectGet matches object downloads (GET /bucket/key without a query).
func ObjectGet(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.RawQuery == "" && strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1
}

type faultKind int

const (
	kindFail faultKind = iota
	kindResetBody
	kindDropResponse
	kindFlipRequest
	kindFlipResponse
	kindStall
)

type fault struct {
	kind      faultKind
	match     Match
	remaining int // < 0: forever
	status    int
	offset    int64
}

// faultKey carries the fault applied to a request through the reverse proxy.
type faultKey struct{}

// Proxy is a reverse proxy in front of an S3 server that injects faults on command. Each fault
// is armed for a number of matching requests and fires in the order armed; requests no fault
// matches pass through untouched. The Host header is kept, so signed requests stay valid.
type Proxy struct {
	// Endpoint is the proxy's "127.0.0.1:port"; URL is "http://" + Endpoint.
	Endpoint, URL string

	rp     *httputil.ReverseProxy
	srv    *http.Server
	down   atomic.Bool
	strict atomic.Bool
	cut    atomic.Int64

	mu       sync.Mutex
	faults   []*fault
	counts   map[string]int
	requests []string
}

// NewProxy starts a proxy to target ("http://host:port" or "host:port") and closes it when the
// test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("s3test: proxy target %q: %v", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Endpoint: ln.Addr().String(), counts: map[string]int{}}
	p.URL = "http://" + p.Endpoint
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the signature covers Host
		},
		ModifyResponse: p.modifyResponse,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// A fault cut the request or dropped the answer: the client sees its connection reset.
			// Any other upstream failure (server down) is a 502, as a load balancer would answer.
			if f, _ := r.Context().Value(faultKey{}).(*fault); f != nil {
				resetConn(w)
				return
			}
			writeError(w, r, http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: p}
	go func() { _ = p.srv.Serve(&cutListener{Listener: ln, p: p}) }()
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

// Fail answers the next n matching requests (n < 0: all until Clear) with status and an S3 error
// body: 503 SlowDown, 429 TooManyRequests, 500 InternalError, 403 AccessDenied, 404 NoSuchBucket.
func (p *Proxy) Fail(n, status int, match Match) {
	p.arm(&fault{kind: kindFail, match: match, remaining: n, status: status})
}

// ResetMidBody forwards the first after bytes of the next matching request's body to the server,
// then resets the client's connection.
func (p *Proxy) ResetMidBody(after int64, match Match) {
	p.arm(&fault{kind: kindResetBody, match: match, remaining: 1, offset: after})
}

// DropResponse lets the next matching request reach the server, then resets the client's
// connection instead of answering: the request took effect but the client cannot know.
func (p *Proxy) DropResponse(match Match) {
	p.arm(&fault{kind: kindDropResponse, match: match, remaining: 1})
}

// FlipRequestByte inverts the byte at offset of the next matching request's body on its way to
// the server.
func (p *Proxy) FlipRequestByte(offset int64, match Match) {
	p.arm(&fault{kind: kindFlipRequest, match: match, remaining: 1, offset: offset})
}

// FlipResponseByte inverts the byte at offset of the next matching successful response's body.
func (p *Proxy) FlipResponseByte(offset int64, match Match) {
	p.arm(&fault{kind: kindFlipResponse, match: match, remaining: 1, offset: offset})
}

// Stall holds the next n matching requests (n < 0: all until Clear) without answering, until
// the client gives up on them: an upload part that never completes.
func (p *Proxy) Stall(n int, match Match) {
	p.arm(&fault{kind: kindStall, match: match, remaining: n})
}

// Down makes the endpoint unreachable: new connections are reset on accept and requests on open
// connections are reset. Up undoes it.
func (p *Proxy) Down() { p.down.Store(true) }

// Up makes the endpoint reachable again.
func (p *Proxy) Up() { p.down.Store(false) }

// Refused returns how many connections and requests were reset while the proxy was down.
func (p *Proxy) Refused() int { return int(p.cut.Load()) }

// Strict makes the proxy reject, with 400, requests carrying x-amz-sdk-checksum-algorithm,
// x-amz-trailer or a STREAMING-UNSIGNED-PAYLOAD-TRAILER body, as some S3-compatible servers do.
func (p *Proxy) Strict(on bool) { p.strict.Store(on) }

// Clear disarms every fault.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Count returns how many requests with method reached the proxy ("" for all).
func (p *Proxy) Count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if method == "" {
		return len(p.requests)
	}
	return p.counts[method]
}

// Requests returns every request received, as "METHOD /path?query", in order.
func (p *Proxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

func (p *Proxy) arm(f *fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
}

// take records r and returns the first armed fault matching it, consuming one of its uses.
func (p *Proxy) take(r *http.Request) *fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[r.Method]++
	p.requests = append(p.requests, r.Method+" "+r.URL.RequestURI())
	for _, f := range p.faults {
		if f.remaining != 0 && f.match(r) {
			if f.remaining > 0 {
				f.remaining--
			}
			return f
		}
	}
	return nil
}

// ServeHTTP applies the fault armed for r, if any, and forwards it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := p.take(r)
	if p.down.Load() {
		p.cut.Add(1)
		resetConn(w)
		return
	}
	if p.strict.Load() && strictViolation(r) {
		_, _ = io.Copy(io.Discard, r.Body)
		writeError(w, r, http.StatusBadRequest)
		return
	}
	if f != nil {
		switch f.kind {
		case kindFail:
			// Read the body first, so the client sees the answer rather than a write error.
			_, _ = io.Copy(io.Discard, r.Body)
			writeError(w, r, f.status)
			return
		case kindResetBody:
			r.Body = &cutBody{r: r.Body, left: f.offset}
		case kindFlipRequest:
			r.Body = &flipBody{r: r.Body, at: f.offset}
		case kindStall:
			<-r.Context().Done()
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), faultKey{}, f))
	}
	p.rp.ServeHTTP(w, r)
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	f, _ := resp.Request.Context().Value(faultKey{}).(*fault)
	switch {
	case f == nil:
		return nil
	case f.kind == kindDropResponse:
		return faultError{"response dropped"}
	case f.kind == kindFlipResponse && resp.StatusCode/100 == 2:
		resp.Body = &flipBody{r: resp.Body, at: f.offset}
	}
	return nil
}

func strictViolation(r *http.Request) bool {
	return r.Header.Get("X-Amz-Sdk-Checksum-Algorithm") != "" || r.Header.Get("X-Amz-Trailer") != "" ||
		strings.Contains(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
}

// faultError marks an upstream failure the proxy caused on purpose.
type faultError struct{ what string }

func (e faultError) Error() string { return "s3test proxy: " + e.what }

// cutBody passes left bytes, then fails.
type cutBody struct {
	r    io.ReadCloser
	left int64
}

func (c *cutBody) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, faultError{"request body cut"}
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

func (c *cutBody) Close() error { return c.r.Close() }

// flipBody inverts the byte at offset at.
type flipBody struct {
	r   io.ReadCloser
	at  int64
	pos int64
}

func (f *flipBody) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if f.at >= f.pos && f.at < f.pos+int64(n) {
		b[f.at-f.pos] ^= 0xff
	}
	f.pos += int64(n)
	return n, err
}

func (f *flipBody) Close() error { return f.r.Close() }

// resetConn closes the client's connection with a TCP reset.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	reset(conn)
}

func reset(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// cutListener resets connections accepted while the proxy is down.
type cutListener struct {
	net.Listener
	p *Proxy
}

func (l *cutListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.p.down.Load() {
			return c, err
		}
		l.p.cut.Add(1)
		reset(c)
	}
}

var errorCodes = map[int]string{
	http.StatusServiceUnavailable:  "SlowDown",
	http.StatusTooManyRequests:     "TooManyRequests",
	http.StatusInternalServerError: "InternalError",
	http.StatusBadGateway:          "BadGateway",
	http.StatusForbidden:           "AccessDenied",
	http.StatusNotFound:            "NoSuchBucket",
	http.StatusBadRequest:          "InvalidRequest",
	http.StatusRequestTimeout:      "RequestTimeout",
}

// writeError answers with status and an S3 error document (no body for HEAD).
func writeError(w http.ResponseWriter, r *http.Request, status int) {
	code := errorCodes[status]
	if code == "" {
		code = "ProxyFault"
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
		`<Error><Code>%s</Code><Message>injected by s3test proxy</Message><Resource>%s</Resource>`+
		`<RequestId>s3test</RequestId></Error>`, code, r.URL.Path)
}
