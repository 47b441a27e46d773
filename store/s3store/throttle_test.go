package s3store_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/s3test"
	"github.com/pgsnap/pgsnap/store"
	"github.com/pgsnap/pgsnap/store/s3store"
)

// TestThrottlingRetried (T34): 503 SlowDown, 429 and 500 answers to the first five requests of
// an upload are retried with backoff to success; an endpoint that never recovers fails after
// MaxAttempts tries with a message saying so.
func TestThrottlingRetried(t *testing.T) {
	invariants.Fault(t, "T34")
	t.Parallel()
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInternalServerError} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv := s3test.Start(t)
			proxy := s3test.NewProxy(t, srv.URL)
			logs := &logBuffer{}
			s := checkedStore(t, testConfig(srv, proxy.Endpoint, srv.NewBucket(t), logs))
			for _, size := range []int{12 << 20, 100} {
				data := randomBytes(size)
				key := fmt.Sprintf("obj-%d", size)
				before := proxy.Count("")
				proxy.Fail(5, status, s3test.Any)
				if err := <-putAsync(t.Context(), s, key, data); err != nil {
					t.Fatalf("put(%d bytes) with 5 x %d = %v, want nil", size, status, err)
				}
				assertContent(t, s, key, data)
				if got := proxy.Count("") - before; got < 5+3 {
					t.Errorf("requests for put(%d bytes) = %d, want the 5 refused plus at least 3", size, got)
				}
			}
			if got := strings.Count(logs.String(), "retrying"); got < 10 {
				t.Errorf("retries logged = %d, want at least 10", got)
			}

			proxy.Fail(-1, status, s3test.Any)
			_, err := s.Stat(t.Context(), "obj-100")
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("gave up after %d tries", s3store.DefaultMaxAttempts)) {
				t.Errorf("Stat() against an endpoint answering %d = %v, want it to give up after %d tries",
					status, err, s3store.DefaultMaxAttempts)
			}
			invariants.Report(t, "T34 throttling %d (s3 store): throttled uploads succeeded 2/2; endless refusal gave up after %d tries",
				status, s3store.DefaultMaxAttempts)
		})
	}
}

// TestRefusedFailsAtOnce (T34): a 403 is not retried, and the error names the bucket, the
// endpoint and the access key id, never the secret.
func TestRefusedFailsAtOnce(t *testing.T) {
	invariants.Fault(t, "T34")
	t.Parallel()
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.URL)
	logs := &logBuffer{}
	cfg := testConfig(srv, proxy.Endpoint, srv.NewBucket(t), logs)
	s := checkedStore(t, cfg)
	proxy.Fail(-1, http.StatusForbidden, s3test.Any)

	calls := []struct {
		name string
		call func() error
	}{
		{"Create", func() error { _, err := s.Create(t.Context(), "snap.dump"); return err }},
		{"Open", func() error { _, err := s.Open(t.Context(), "snap.dump"); return err }},
		{"List", func() error { _, err := s.List(t.Context()); return err }},
		{"Check", func() error { return s.Check(t.Context()) }},
		{"Sweep", func() error { _, err := s.Sweep(t.Context()); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			before := proxy.Count("")
			err := c.call()
			if err == nil {
				t.Fatalf("%s() against a 403 endpoint = nil, want error", c.name)
			}
			if got := proxy.Count("") - before; got != 1 {
				t.Errorf("%s() sent %d requests, want 1 (no retry)", c.name, got)
			}
			msg := err.Error()
			for _, want := range []string{cfg.Bucket, proxy.Endpoint, srv.AccessKey, "403"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s() = %q, want it to name %q", c.name, msg, want)
				}
			}
			if strings.Contains(msg, srv.SecretKey) {
				t.Errorf("%s() error shows the secret key", c.name)
			}
			if errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s() = %v, want a refusal, not ErrNotFound", c.name, err)
			}
		})
	}
	if strings.Contains(logs.String(), srv.SecretKey) {
		t.Errorf("log shows the secret key")
	}
	invariants.Report(t, "T34 refusal 403 (s3 store): %d/%d calls failed at once naming bucket, endpoint and key id; secret shown 0",
		len(calls), len(calls))
}

// TestInvalidKeyTouchesNothing: a bad key is refused without a single request.
func TestInvalidKeyTouchesNothing(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.URL)
	s := newStore(t, testConfig(srv, proxy.Endpoint, srv.NewBucket(t), &logBuffer{}))
	for _, key := range []string{"../x", "a/b", ".probe"} {
		if _, err := s.Create(t.Context(), key); err == nil {
			t.Errorf("Create(%q) = nil error, want error", key)
		}
		if _, err := s.Open(t.Context(), key); err == nil {
			t.Errorf("Open(%q) = nil error, want error", key)
		}
		if _, err := s.Stat(t.Context(), key); err == nil {
			t.Errorf("Stat(%q) = nil error, want error", key)
		}
		if err := s.Delete(t.Context(), key); err == nil {
			t.Errorf("Delete(%q) = nil, want error", key)
		}
		if _, err := s.Checksum(t.Context(), key); err == nil {
			t.Errorf("Checksum(%q) = nil error, want error", key)
		}
	}
	if got := proxy.Requests(); len(got) != 0 {
		t.Errorf("requests for invalid keys = %q, want none", got)
	}
}

// TestCorruptGet (T34): a byte flipped in a download reaches the reader unchanged by the store,
// so the caller's SHA-256 over what it reads catches it.
func TestCorruptGet(t *testing.T) {
	invariants.Fault(t, "T34")
	t.Parallel()
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.URL)
	s := checkedStore(t, testConfig(srv, proxy.Endpoint, srv.NewBucket(t), &logBuffer{}))
	data := randomBytes(1 << 20)
	w := create(t, s, "snap.dump")
	write(t, w, data)
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit() = %v, want nil", err)
	}
	recorded := w.(*s3store.Writer).SHA256()

	proxy.FlipResponseByte(1000, s3test.ObjectGet)
	got := read(t, s, "snap.dump")
	if len(got) != len(data) {
		t.Fatalf("read %d bytes, want %d", len(got), len(data))
	}
	var diffs []int
	for i := range got {
		if got[i] != data[i] {
			diffs = append(diffs, i)
		}
	}
	if len(diffs) != 1 || diffs[0] != 1000 {
		t.Errorf("bytes differing from the upload at offsets %v, want [1000]", diffs)
	}
	if sum := sha256.Sum256(got); bytes.Equal(sum[:], recorded) {
		t.Errorf("SHA-256 of the corrupted read equals the recorded one, want a mismatch")
	}
	assertContent(t, s, "snap.dump", data) // the stored object itself is intact
	invariants.Report(t, "T34 corrupt GET (s3 store): flipped byte handed to the reader, caller's SHA-256 mismatch 1/1")
}

// TestCorruptPartRejected: a byte flipped in a part on its way up is refused by the server
// (checksum mismatch); the part is sent again and the object is whole.
func TestCorruptPartRejected(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		checksum bool
	}{
		{"checksums", true},
		{"md5 and signed sha256 only", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := s3test.Start(t)
			proxy := s3test.NewProxy(t, srv.URL)
			logs := &logBuffer{}
			cfg := testConfig(srv, proxy.Endpoint, srv.NewBucket(t), logs)
			cfg.DisableChecksums = !tt.checksum
			s := checkedStore(t, cfg)
			data := randomBytes(7 << 20)
			proxy.FlipRequestByte(12345, s3test.PartUpload)
			if err := <-putAsync(t.Context(), s, "snap.dump", data); err != nil {
				t.Fatalf("put with a corrupted part = %v, want nil", err)
			}
			assertContent(t, s, "snap.dump", data)
			parts := 0
			for _, r := range proxy.Requests() {
				if strings.HasPrefix(r, "PUT ") && strings.Contains(r, "partNumber=") {
					parts++
				}
			}
			if parts != 3 {
				t.Errorf("part uploads = %d, want 3 (two parts, one sent twice)", parts)
			}
			if !strings.Contains(logs.String(), "retrying") {
				t.Errorf("no retry logged for the rejected part; log:\n%s", logs)
			}
		})
	}
}

// TestStrictEndpoint (T34): an endpoint rejecting SDK checksum headers and trailing-checksum
// streaming accepts everything the store sends.
func TestStrictEndpoint(t *testing.T) {
	invariants.Fault(t, "T34")
	t.Parallel()
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.URL)
	proxy.Strict(true)
	s := checkedStore(t, testConfig(srv, proxy.Endpoint, srv.NewBucket(t), &logBuffer{}))
	big, small := randomBytes(12<<20), []byte("manifest")
	put(t, s, "snap.dump", big)
	put(t, s, "snap.json", small)
	assertContent(t, s, "snap.dump", big)
	assertContent(t, s, "snap.json", small)
	assertKeys(t, s, []string{"snap.dump", "snap.json"})
	if _, err := s.Sweep(t.Context()); err != nil {
		t.Errorf("Sweep() = %v, want nil", err)
	}
	if err := s.Delete(t.Context(), "snap.json"); err != nil {
		t.Errorf("Delete() = %v, want nil", err)
	}
	invariants.Report(t, "T34 strict endpoint (s3 store): uploads through strict endpoint 2/2")
}

// TestMissingBucket (T34): a missing bucket fails Check and List with a message naming the
// bucket, the endpoint and the setting.
func TestMissingBucket(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	s := newStore(t, testConfig(srv, srv.Endpoint, "no-such-bucket", &logBuffer{}))
	errCheck := s.Check(t.Context())
	_, errList := s.List(t.Context())
	for name, err := range map[string]error{"Check": errCheck, "List": errList} {
		if err == nil {
			t.Errorf("%s() on a missing bucket = nil, want error", name)
			continue
		}
		for _, want := range []string{`"no-such-bucket" does not exist`, srv.Endpoint, s3store.URLSetting} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s() = %q, want it to contain %q", name, err, want)
			}
		}
	}
	var er minio.ErrorResponse
	if !errors.As(errList, &er) || er.Code != "NoSuchBucket" {
		t.Errorf("List() = %v, want it to wrap the NoSuchBucket answer", errList)
	}
	if err := s.Delete(t.Context(), "x"); err == nil {
		t.Errorf("Delete() on a missing bucket = nil, want error")
	}
}

// TestSecretsNeverShown drives a store into refusals, retries and outages with a wrong secret
// and a session token, and with the right secret, and scans every error, log line and
// description for either secret.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.URL)
	bucket := srv.NewBucket(t)
	logs := &logBuffer{}
	var shown []string
	record := func(err error) {
		if err != nil {
			shown = append(shown, err.Error())
		}
	}
	exercise := func(s *s3store.Store) {
		record(s.Check(t.Context()))
		w, err := s.Create(t.Context(), "snap.dump")
		record(err)
		if err == nil {
			_, err := w.Write(randomBytes(6 << 20))
			record(err)
			record(w.Commit(t.Context()))
		}
		_, err = s.List(t.Context())
		record(err)
		_, err = s.Open(t.Context(), "snap.dump")
		record(err)
		_, err = s.Sweep(t.Context())
		record(err)
		record(s.Delete(t.Context(), "snap.dump"))
	}
	const token = "session-token-do-not-show"

	wrong := testConfig(srv, proxy.Endpoint, bucket, logs)
	wrong.SecretKey = "wrong-secret-do-not-show"
	wrong.SessionToken = token
	exercise(newStore(t, wrong))

	right := testConfig(srv, proxy.Endpoint, bucket, logs)
	right.MaxAttempts = 3
	s := newStore(t, right)
	proxy.Fail(-1, http.StatusServiceUnavailable, s3test.Any)
	exercise(s)
	proxy.Clear()
	proxy.Fail(-1, http.StatusForbidden, s3test.Any)
	exercise(s)
	proxy.Clear()
	proxy.Down()
	exercise(s)
	proxy.Up()

	for _, c := range []s3store.Config{wrong, right} {
		shown = append(shown, fmt.Sprintf("%v|%+v|%#v|%s", c, c, c, c), c.String())
		slog.New(slog.NewTextHandler(logs, nil)).Info("config", "cfg", c, "store", newStore(t, c))
		slog.New(slog.NewJSONHandler(logs, nil)).Info("config", "cfg", c, "store", newStore(t, c))
		shown = append(shown, fmt.Sprintf("%v|%+v|%#v", newStore(t, c), newStore(t, c), newStore(t, c)))
	}
	shown = append(shown, logs.String())
	if len(shown) < 20 {
		t.Fatalf("only %d errors and descriptions collected, want the calls above to fail", len(shown))
	}
	for _, secret := range []string{wrong.SecretKey, token, srv.SecretKey} {
		for _, text := range shown {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q shown in %q", secret[:6]+"...", text)
			}
		}
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("no retry logged; the log scan saw nothing worth scanning")
	}
}
