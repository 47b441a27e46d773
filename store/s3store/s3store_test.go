package s3store_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"

	"github.com/pgsnap/pgsnap/internal/s3test"
	"github.com/pgsnap/pgsnap/store"
	"github.com/pgsnap/pgsnap/store/s3store"
	"github.com/pgsnap/pgsnap/store/storetest"
)

// logBuffer collects a store's log output, for tests that look for a retry or scan for secrets.
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

// testConfig returns a config for bucket on endpoint with the server's credentials, small parts
// and fast retries, logging into logs.
func testConfig(srv *s3test.Server, endpoint, bucket string, logs *logBuffer) s3store.Config {
	return s3store.Config{
		Bucket:         bucket,
		Prefix:         "pgsnap/app",
		Endpoint:       endpoint,
		Region:         s3test.Region,
		ForcePathStyle: true,
		Insecure:       true,
		AccessKey:      srv.AccessKey,
		SecretKey:      srv.SecretKey,
		PartSize:       s3store.MinPartSize,
		RetryBase:      20 * time.Millisecond,
		RetryMax:       200 * time.Millisecond,
		Logger:         logs.logger(),
	}
}

func newStore(t *testing.T, cfg s3store.Config) *s3store.Store {
	t.Helper()
	s, err := s3store.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New(%v) = %v, want nil", cfg, err)
	}
	return s
}

func checkedStore(t *testing.T, cfg s3store.Config) *s3store.Store {
	t.Helper()
	s := newStore(t, cfg)
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check() = %v, want nil", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return newStore(t, testConfig(srv, srv.Endpoint, srv.NewBucket(t), &logBuffer{}))
	}, storetest.Temporaries(func(t *testing.T, s store.Store) []string {
		st := s.(*s3store.Store)
		return srv.Uploads(t, st.Bucket(), "")
	}))
}

// TestPrefixIsolation checks that a store sees only the objects directly under its own prefix:
// not a sibling prefix sharing its first letters, not its parent, not deeper objects.
func TestPrefixIsolation(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	client := srv.Client(t)
	for _, name := range []string{"pgsnap/app2/x", "pgsnap/appx", "pgsnap/app/sub/deep", "pgsnap/x", "top"} {
		if _, err := client.PutObject(t.Context(), bucket, name, strings.NewReader("foreign"), 7, "", "", minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s := checkedStore(t, testConfig(srv, srv.Endpoint, bucket, &logBuffer{}))
	put(t, s, "mine", []byte("ours"))
	list, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List() = %v, want nil", err)
	}
	if len(list) != 1 || list[0].Key != "mine" {
		t.Errorf("List() = %+v, want only mine", list)
	}
	if _, err := s.Stat(t.Context(), "deep"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat(deep) = %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), "x"); err != nil {
		t.Errorf("Delete(x) = %v, want nil", err)
	}
	// The parent's x is not the store's x: it must survive.
	if _, err := client.StatObject(t.Context(), bucket, "pgsnap/x", minio.StatObjectOptions{}); err != nil {
		t.Errorf("object pgsnap/x outside the prefix: %v, want it untouched", err)
	}
}

// TestLargeObject writes an object over several parts, with writes of odd sizes, and checks the
// content, the composite checksum and Verify.
func TestLargeObject(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	s := checkedStore(t, testConfig(srv, srv.Endpoint, bucket, &logBuffer{}))
	data := randomBytes(23<<20 + 321) // 5 parts of 5 MiB: four full ones and a short last one
	w, err := s.Create(t.Context(), "big.dump")
	if err != nil {
		t.Fatalf("Create() = %v, want nil", err)
	}
	defer w.Abort()
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rand.IntN(3<<20))
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatalf("Write(%d bytes) = %v, want nil", n, err)
		}
		rest = rest[n:]
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit() = %v, want nil", err)
	}
	assertContent(t, s, "big.dump", data)

	sw := w.(*s3store.Writer)
	sum := sha256.Sum256(data)
	if got := sw.SHA256(); !bytes.Equal(got, sum[:]) {
		t.Errorf("SHA256() = %x, want %x", got, sum)
	}
	if got, want := sw.Checksum(), compositeChecksum(data, s3store.MinPartSize); got != want {
		t.Errorf("Checksum() = %s, want %s", got, want)
	}
	if err := sw.Verify(t.Context(), sum[:]); err != nil {
		t.Errorf("Verify() = %v, want nil", err)
	}
	if stored, err := s.Checksum(t.Context(), "big.dump"); err != nil || stored != sw.Checksum() {
		t.Errorf("Store.Checksum() = %s, %v, want %s, nil", stored, err, sw.Checksum())
	}
	other := sha256.Sum256([]byte("other bytes"))
	if err := sw.Verify(t.Context(), other[:]); err == nil {
		t.Errorf("Verify(wrong sha256) = nil, want error")
	}
	if uploads := srv.Uploads(t, bucket, ""); len(uploads) != 0 {
		t.Errorf("incomplete uploads = %q, want none", uploads)
	}
}

// TestSmallObjectChecksum checks Verify on an object sent in one request.
func TestSmallObjectChecksum(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	s := checkedStore(t, testConfig(srv, srv.Endpoint, srv.NewBucket(t), &logBuffer{}))
	data := []byte(`{"manifest": true}`)
	w := create(t, s, "snap.json")
	write(t, w, data)
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit() = %v, want nil", err)
	}
	sum := sha256.Sum256(data)
	sw := w.(*s3store.Writer)
	if err := sw.Verify(t.Context(), sum[:]); err != nil {
		t.Errorf("Verify() = %v, want nil", err)
	}
	if got, want := sw.Checksum(), compositeChecksum(data, s3store.MinPartSize); got != want {
		t.Errorf("Checksum() = %s, want %s", got, want)
	}
}

// TestDisabledChecksums checks that without checksum headers objects still round trip and
// Verify says why it cannot vouch for them.
func TestDisabledChecksums(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	cfg := testConfig(srv, srv.Endpoint, srv.NewBucket(t), &logBuffer{})
	cfg.DisableChecksums = true
	s := checkedStore(t, cfg)
	data := randomBytes(6 << 20)
	w := create(t, s, "plain")
	write(t, w, data)
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit() = %v, want nil", err)
	}
	assertContent(t, s, "plain", data)
	sum := sha256.Sum256(data)
	if err := w.(*s3store.Writer).Verify(t.Context(), sum[:]); !errors.Is(err, s3store.ErrNoChecksum) {
		t.Errorf("Verify() = %v, want ErrNoChecksum", err)
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	cfg := testConfig(srv, srv.Endpoint, "bucket", &logBuffer{})
	tests := []struct {
		name string
		mut  func(*s3store.Config)
		want string
	}{
		{"custom endpoint", func(*s3store.Config) {}, "s3://bucket/pgsnap/app (http://" + srv.Endpoint + ")"},
		{"aws", func(c *s3store.Config) { c.Endpoint, c.Insecure = "", false }, "s3://bucket/pgsnap/app"},
		{"no prefix", func(c *s3store.Config) { c.Prefix = "" }, "s3://bucket (http://" + srv.Endpoint + ")"},
		{"https url", func(c *s3store.Config) { c.Endpoint, c.Insecure = "https://s3.example.com:9000", false },
			"s3://bucket/pgsnap/app (https://s3.example.com:9000)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := cfg
			tt.mut(&c)
			s := newStore(t, c)
			if got := s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func put(t *testing.T, s store.Store, key string, data []byte) {
	t.Helper()
	w := create(t, s, key)
	defer w.Abort()
	write(t, w, data)
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit(%s) = %v, want nil", key, err)
	}
}

func create(t *testing.T, s store.Store, key string) store.Writer {
	t.Helper()
	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatalf("Create(%s) = %v, want nil", key, err)
	}
	return w
}

func write(t *testing.T, w store.Writer, data []byte) {
	t.Helper()
	if n, err := w.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write(%d bytes) = %d, %v, want %d, nil", len(data), n, err, len(data))
	}
}

func read(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	r, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%s) = %v, want nil", key, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return got
}

func assertContent(t *testing.T, s store.Store, key string, want []byte) {
	t.Helper()
	if got := read(t, s, key); !bytes.Equal(got, want) {
		t.Errorf("content of %s = %d bytes, sha256 %x, want %d bytes, sha256 %x",
			key, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

func assertKeys(t *testing.T, s store.Store, want []string) {
	t.Helper()
	list, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List() = %v, want nil", err)
	}
	var got []string
	for _, info := range list {
		got = append(got, info.Key)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List() keys mismatch (-want +got):\n%s", diff)
	}
}

func list(t *testing.T, s store.Store) []store.Info {
	t.Helper()
	infos, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List() = %v, want nil", err)
	}
	return infos
}

func randomBytes(n int) []byte {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rand.Uint32())
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b)
	return b
}

// compositeChecksum computes independently the x-amz-checksum-sha256 value S3 reports for data
// written by a Writer whose first part size is base: the plain SHA-256 for an object smaller
// than one part, else the SHA-256 of the part digests and the part count.
func compositeChecksum(data []byte, base int64) string {
	if int64(len(data)) < base {
		sum := sha256.Sum256(data)
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	h := sha256.New()
	n := 0
	for len(data) > 0 {
		n++
		size := min(int64(len(data)), s3store.PartSize(base, n))
		sum := sha256.Sum256(data[:size])
		h.Write(sum[:])
		data = data[size:]
	}
	return fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(h.Sum(nil)), n)
}
