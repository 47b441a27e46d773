package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// maxResponseRead bounds how much of an answer is read (and discarded) so the connection can
// be reused; a receiver's body is never logged.
const maxResponseRead = 64 << 10

// sender makes one HTTP request with a per-attempt timeout and retries.
type sender struct {
	client  *http.Client
	own     bool // the client is ours: close its idle connections when Run ends
	timeout time.Duration
	retries int
	backoff []time.Duration
	log     *slog.Logger
}

// newSender fills the defaults. A client of our own does not follow redirects: a redirect
// would resend a signed body to a place nobody configured.
func newSender(c *http.Client, timeout time.Duration, retries, defRetries int, backoff []time.Duration, log *slog.Logger) sender {
	s := sender{client: c, timeout: timeout, retries: retries, backoff: backoff, log: log}
	if s.client == nil {
		s.own = true
		s.client = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	switch {
	case s.retries == 0:
		s.retries = defRetries
	case s.retries < 0:
		s.retries = 0
	}
	if len(s.backoff) == 0 {
		s.backoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func (s sender) close() {
	if s.own {
		s.client.CloseIdleConnections()
	}
}

// permanentError marks an answer that a retry cannot change.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// send runs build+do until success, a permanent error, the last retry, or ctx's end. It
// returns the number of attempts made and the last error (nil on success). attrs name the
// message in logs.
func (s sender) send(ctx context.Context, build func(ctx context.Context) (*http.Request, error), attrs ...any) (int, error) {
	var err error
	for attempt := 1; ; attempt++ {
		if err = s.attempt(ctx, build); err == nil {
			return attempt, nil
		}
		var perm permanentError
		if ctx.Err() != nil || errors.As(err, &perm) || attempt > s.retries {
			return attempt, err
		}
		wait := s.backoff[min(attempt-1, len(s.backoff)-1)]
		s.log.Warn("notification attempt failed, will retry", append(attrs, "attempt", attempt, "retry_in", wait, "err", err)...)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt, ctx.Err()
		case <-t.C:
		}
	}
}

func (s sender) attempt(ctx context.Context, build func(ctx context.Context) (*http.Request, error)) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := build(ctx)
	if err != nil {
		return permanentError{err}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error repeats the URL, which may hold credentials: keep only the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Errorf("no answer within %s", s.timeout)
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	_ = resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("answered %s", resp.Status)
	default:
		return permanentError{fmt.Errorf("answered %s", resp.Status)}
	}
}

// redact names a URL for logs and errors without anything that may be a credential: user
// info, path (Slack-style tokens) and query are left out.
func redact(u *url.URL) string {
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/…"
	}
	return s
}

// parseURL checks that raw is an absolute http(s) URL. Its errors never echo raw.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: scheme must be http or https", redact(u))
	}
	if u.Host == "" {
		return nil, errors.New("URL has no host")
	}
	return u, nil
}
