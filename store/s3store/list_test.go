package s3store_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/s3test"
)

// TestListPaginates (T35's listing half): 1,001 objects under the prefix among unrelated ones
// take two listing pages; a page that fails once is retried from the last key seen, so every
// object is listed exactly once.
func TestListPaginates(t *testing.T) {
	invariants.Fault(t, "T35")
	t.Parallel()
	srv := s3test.Start(t)
	proxy := s3test.NewProxy(t, srv.URL)
	bucket := srv.NewBucket(t)
	client := srv.Client(t)
	var want []string
	var names []string
	for i := range 1001 {
		key := fmt.Sprintf("app-%04d.json", i)
		want = append(want, key)
		names = append(names, "pgsnap/app/"+key)
	}
	for i := range 100 {
		names = append(names, fmt.Sprintf("pgsnap/app2/other-%d", i), fmt.Sprintf("pgsnap/app/sub/deep-%d", i))
	}
	putAll(t, client, bucket, names)

	s := checkedStore(t, testConfig(srv, proxy.Endpoint, bucket, &logBuffer{}))
	nextPage := func(r *http.Request) bool {
		q := r.URL.Query()
		return r.Method == http.MethodGet && (q.Has("continuation-token") || q.Get("start-after") != "")
	}
	proxy.Fail(1, http.StatusServiceUnavailable, nextPage)
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
	pages := 0
	for _, r := range proxy.Requests() {
		if strings.HasPrefix(r, "GET ") && strings.Contains(r, "list-type=2") {
			pages++
		}
	}
	if pages < 3 {
		t.Errorf("listing requests = %d, want at least 3 (two pages, one retried)", pages)
	}
	invariants.Report(t, "T35 listing (s3 store): %d/%d keys listed among 200 unrelated, %d listing requests (one page failed once)",
		len(got), len(want), pages)
}

// putAll writes a tiny object under each name, eight at a time.
func putAll(t *testing.T, client *minio.Core, bucket string, names []string) {
	t.Helper()
	jobs := make(chan string)
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for name := range jobs {
				_, err := client.PutObject(t.Context(), bucket, name, strings.NewReader("x"), 1, "", "", minio.PutObjectOptions{})
				errs <- err
			}
		})
	}
	for _, name := range names {
		jobs <- name
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("put: %v", err)
		}
	}
}

// TestSweep: an upload left by a crashed writer is aborted once older than StaleUploadAge; a
// live writer's upload in this Store is not, nor uploads outside the prefix or for names that
// are not keys; a Store (another process) whose age limit is not reached aborts nothing.
func TestSweep(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	client := srv.Client(t)
	for _, name := range []string{"pgsnap/app/crashed.dump", "pgsnap/app/crashed.dump", "pgsnap/app2/foreign", "pgsnap/app/sub/deep", "pgsnap/app/.other"} {
		if _, err := client.NewMultipartUpload(t.Context(), bucket, name, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(srv, srv.Endpoint, bucket, &logBuffer{})
	cfg.StaleUploadAge = time.Nanosecond // everything already started is stale
	s := checkedStore(t, cfg)
	live := create(t, s, "live.dump")
	defer live.Abort()
	data := randomBytes(6 << 20)
	write(t, live, data) // the multipart upload is under way

	other := checkedStore(t, testConfig(srv, srv.Endpoint, bucket, &logBuffer{})) // default age: 24h
	if removed, err := other.Sweep(t.Context()); err != nil || len(removed) != 0 {
		t.Errorf("Sweep() with the default age = %q, %v, want nothing removed, nil", removed, err)
	}

	removed, err := s.Sweep(t.Context())
	if err != nil {
		t.Fatalf("Sweep() = %v, want nil", err)
	}
	if diff := cmp.Diff([]string{"crashed.dump", "crashed.dump"}, removed); diff != "" {
		t.Errorf("Sweep() removed mismatch (-want +got):\n%s", diff)
	}
	var left []string
	for _, u := range srv.Uploads(t, bucket, "") {
		left = append(left, strings.Fields(u)[0])
	}
	slices.Sort(left)
	want := []string{"pgsnap/app/.other", "pgsnap/app/live.dump", "pgsnap/app/sub/deep", "pgsnap/app2/foreign"}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("uploads left after Sweep mismatch (-want +got):\n%s", diff)
	}

	if err := live.Commit(t.Context()); err != nil {
		t.Fatalf("Commit(live.dump) after Sweep = %v, want nil", err)
	}
	assertContent(t, s, "live.dump", data)
	if removed, err := s.Sweep(t.Context()); err != nil || len(removed) != 0 {
		t.Errorf("second Sweep() = %q, %v, want nothing removed, nil", removed, err)
	}
}
