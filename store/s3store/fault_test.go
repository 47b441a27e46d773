package s3store_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/s3test"
	"github.com/pgsnap/pgsnap/store"
	"github.com/pgsnap/pgsnap/store/s3store"
)

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// putAsync writes and commits data under key on its own goroutine; the channel yields the result.
func putAsync(ctx context.Context, s store.Store, key string, data []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		w, err := s.Create(ctx, key)
		if err != nil {
			done <- err
			return
		}
		defer w.Abort()
		if _, err := w.Write(data); err != nil {
			done <- err
			return
		}
		done <- w.Commit(ctx)
	}()
	return done
}

// assertNothingLeft checks that key is not committed and no multipart upload is left.
func assertNothingLeft(t *testing.T, srv *s3test.Server, s *s3store.Store, key string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat(%s) = %v, want ErrNotFound", key, err)
	}
	if uploads := srv.Uploads(t, s.Bucket(), ""); len(uploads) != 0 {
		t.Errorf("incomplete multipart uploads = %q, want none", uploads)
	}
}

// TestEndpointDownThenUp (T33a): the endpoint refuses connections when the upload starts and
// comes back later; the retries carry the upload through.
func TestEndpointDownThenUp(t *testing.T) {
	invariants.Fault(t, "T33")
	t.Parallel()
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.URL)
	cfg := testConfig(srv, proxy.Endpoint, srv.NewBucket(t), &logBuffer{})
	cfg.MaxAttempts = 50
	s := checkedStore(t, cfg)
	data := randomBytes(12 << 20)

	proxy.Down()
	done := putAsync(t.Context(), s, "snap.dump", data)
	waitFor(t, "three refused connections", func() bool { return proxy.Refused() >= 3 })
	proxy.Up()
	if err := <-done; err != nil {
		t.Fatalf("put through an endpoint down then up = %v, want nil", err)
	}
	assertContent(t, s, "snap.dump", data)
	uploads := srv.Uploads(t, s.Bucket(), "")
	if len(uploads) != 0 {
		t.Errorf("incomplete multipart uploads = %q, want none", uploads)
	}
	invariants.Report(t, "T33a endpoint down then up (s3 store): committed after %d refused connections; incomplete multipart uploads left %d",
		proxy.Refused(), len(uploads))
}

// TestServerKilledMidUpload (T33a, real process): the server dies between parts and restarts
// on the same port; the part in flight is retried and the object commits whole.
func TestServerKilledMidUpload(t *testing.T) {
	invariants.Fault(t, "T33")
	t.Parallel()
	srv := s3test.Start(t)
	logs := &logBuffer{}
	cfg := testConfig(srv, srv.Endpoint, srv.NewBucket(t), logs)
	cfg.MaxAttempts = 100
	s := checkedStore(t, cfg)
	data := randomBytes(17 << 20)

	w := create(t, s, "snap.dump")
	defer w.Abort()
	write(t, w, data[:6<<20]) // the first part goes up in the background
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		if _, err := w.Write(data[6<<20:]); err != nil {
			done <- err
			return
		}
		done <- w.Commit(t.Context())
	}()
	waitFor(t, "a logged retry", func() bool { return strings.Contains(logs.String(), "retrying") })
	srv.Restart(t)
	if err := <-done; err != nil {
		t.Fatalf("write and commit across a server restart = %v, want nil", err)
	}
	assertContent(t, s, "snap.dump", data)
	uploads := srv.Uploads(t, s.Bucket(), "")
	if len(uploads) != 0 {
		t.Errorf("incomplete multipart uploads = %q, want none", uploads)
	}
	invariants.Report(t, "T33a server killed mid-upload (s3 store): committed whole after restart; incomplete multipart uploads left %d", len(uploads))
}

// TestConnectionResetMidPart (T33b): the proxy resets the connection 2 MiB into a part upload.
// With retries the part is sent again and the object is whole; without, the upload is aborted.
func TestConnectionResetMidPart(t *testing.T) {
	invariants.Fault(t, "T33")
	t.Parallel()
	for _, tt := range []struct {
		name     string
		attempts int
	}{
		{"retried", 0},
		{"no retries", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := s3test.Start(t)
			proxy := s3test.NewProxy(t, srv.URL)
			cfg := testConfig(srv, proxy.Endpoint, srv.NewBucket(t), &logBuffer{})
			cfg.MaxAttempts = tt.attempts
			s := checkedStore(t, cfg)
			data := randomBytes(12 << 20) // three parts

			proxy.ResetMidBody(2<<20, s3test.PartUpload)
			err := <-putAsync(t.Context(), s, "snap.dump", data)
			if tt.attempts == 1 {
				if err == nil {
					t.Fatalf("put with a reset part and no retries = nil, want error")
				}
				assertNothingLeft(t, srv, s, "snap.dump")
				assertKeys(t, s, nil)
				invariants.Report(t, "T33b connection reset mid-part, no retries (s3 store): upload aborted; listed partials %d; incomplete multipart uploads left %d",
					len(list(t, s)), len(srv.Uploads(t, s.Bucket(), "")))
				return
			}
			if err != nil {
				t.Fatalf("put with a reset part = %v, want nil", err)
			}
			assertContent(t, s, "snap.dump", data)
			uploads := srv.Uploads(t, s.Bucket(), "")
			if len(uploads) != 0 {
				t.Errorf("incomplete multipart uploads = %q, want none", uploads)
			}
			invariants.Report(t, "T33b connection reset mid-part (s3 store): part resent, object whole; incomplete multipart uploads left %d", len(uploads))
		})
	}
}

// TestCancelMidUpload (T33c): cancelling the writer's context with a part in flight fails the
// commit and leaves no multipart upload.
func TestCancelMidUpload(t *testing.T) {
	invariants.Fault(t, "T33")
	t.Parallel()
	srv := s3test.Start(t)
	s := checkedStore(t, testConfig(srv, srv.Endpoint, srv.NewBucket(t), &logBuffer{}))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w, err := s.Create(ctx, "snap.dump")
	if err != nil {
		t.Fatalf("Create() = %v, want nil", err)
	}
	write(t, w, randomBytes(11<<20)) // two parts cut; the second is in flight
	waitFor(t, "the multipart upload to start", func() bool { return len(srv.Uploads(t, s.Bucket(), "")) == 1 })
	cancel()
	if err := w.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit() after cancel = %v, want context.Canceled", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort() = %v, want nil", err)
	}
	assertNothingLeft(t, srv, s, "snap.dump")
	invariants.Report(t, "T33c cancel mid-upload (s3 store): incomplete multipart uploads left %d; listed partials %d",
		len(srv.Uploads(t, s.Bucket(), "")), len(list(t, s)))
}

// TestLostCommitAnswer: the server completes the upload but the answer is lost; the retry finds
// the object already there, recognises it as this writer's by its checksum and succeeds.
func TestLostCommitAnswer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		size  int
		match s3test.Match
	}{
		{"multipart", 7 << 20, s3test.CompleteUpload},
		{"single put", 1000, s3test.ObjectPut},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := s3test.Start(t)
			proxy := s3test.NewProxy(t, srv.URL)
			s := checkedStore(t, testConfig(srv, proxy.Endpoint, srv.NewBucket(t), &logBuffer{}))
			data := randomBytes(tt.size)
			proxy.DropResponse(tt.match)
			if err := <-putAsync(t.Context(), s, "snap.dump", data); err != nil {
				t.Fatalf("put with the commit answer lost = %v, want nil", err)
			}
			assertContent(t, s, "snap.dump", data)
			// Only a try that may have succeeded unheard is settled by checksum: a writer finding
			// another's object gets ErrExists, even when the bytes are the same.
			w := create(t, s, "late")
			write(t, w, data)
			put(t, s, "late", data)
			if err := w.Commit(t.Context()); !errors.Is(err, store.ErrExists) {
				t.Errorf("Commit(late) = %v, want ErrExists", err)
			}
		})
	}
}

// TestUncheckedStoreGuards: before Check has shown that the endpoint enforces If-None-Match, a
// commit also checks for an existing object first.
func TestUncheckedStoreGuards(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	s := newStore(t, testConfig(srv, srv.Endpoint, srv.NewBucket(t), &logBuffer{}))
	w1, w2 := create(t, s, "k"), create(t, s, "k")
	write(t, w1, []byte("first"))
	write(t, w2, randomBytes(6<<20))
	if err := w1.Commit(t.Context()); err != nil {
		t.Fatalf("Commit(k) = %v, want nil", err)
	}
	if err := w2.Commit(t.Context()); !errors.Is(err, store.ErrExists) {
		t.Errorf("second Commit(k) = %v, want ErrExists", err)
	}
	assertContent(t, s, "k", []byte("first"))
	if uploads := srv.Uploads(t, s.Bucket(), ""); len(uploads) != 0 {
		t.Errorf("incomplete multipart uploads = %q, want none", uploads)
	}
}

// TestConditionalNotImplemented: an endpoint answering 501 to If-None-Match on commit is
// remembered as ignoring it; the commit goes through without the header, and later commits
// check for an existing object first.
func TestConditionalNotImplemented(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.URL)
	logs := &logBuffer{}
	s := checkedStore(t, testConfig(srv, proxy.Endpoint, srv.NewBucket(t), logs))
	data := randomBytes(6 << 20)
	w := create(t, s, "snap.dump")
	loser := create(t, s, "snap.dump")
	write(t, w, data)
	write(t, loser, []byte("other"))
	proxy.Fail(1, http.StatusNotImplemented, s3test.CompleteUpload)
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit() through a 501 to If-None-Match = %v, want nil", err)
	}
	assertContent(t, s, "snap.dump", data)
	if !strings.Contains(logs.String(), "does not implement If-None-Match") {
		t.Errorf("no warning logged about If-None-Match; log:\n%s", logs)
	}
	if err := loser.Commit(t.Context()); !errors.Is(err, store.ErrExists) {
		t.Errorf("second Commit() = %v, want ErrExists", err)
	}
}
