// Package storetest is the conformance suite every store.Store backend must pass.
//
// A backend's test calls Run with a function returning a fresh, empty store. The suite checks
// the contract written on store.Store and store.Writer: commit visibility, no-replace commits
// under races, listing order, key validation, cancellation and Sweep sparing live writers.
package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pgsnap/pgsnap/store"
)

// bigWrite is larger than the smallest S3 part (5 MiB), so that a backend streaming parts has an
// upload under way when a case writes it.
const bigWrite = 6<<20 + 7

// Option adjusts the suite for a backend.
type Option func(*options)

type options struct {
	manyObjects int
	temporaries func(t *testing.T, s store.Store) []string
}

// ManyObjects sets how many objects the ListMany case commits: default 1100, past the 1000 keys
// of one S3 listing page, so that pagination is exercised.
func ManyObjects(n int) Option { return func(o *options) { o.manyObjects = n } }

// Temporaries lets the suite see a backend's temporary objects (temporary files, incomplete
// multipart uploads), by name, so that it can check that aborted, failed and cancelled writers
// leave none behind. Without it only List, Stat and Open are checked.
func Temporaries(f func(t *testing.T, s store.Store) []string) Option {
	return func(o *options) { o.temporaries = f }
}

// Run runs the conformance suite against stores made by newStore (a fresh, empty store per call).
// Cases run as parallel subtests, so newStore is called from several goroutines at once. Each
// store has passed Check before a case uses it.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) {
	t.Helper()
	o := &options{manyObjects: 1100}
	for _, opt := range opts {
		opt(o)
	}
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.Store, o *options)
	}{
		{"CheckFresh", testCheckFresh},
		{"CommitThenRead", testCommitThenRead},
		{"EmptyObject", testEmptyObject},
		{"LongestKey", testLongestKey},
		{"UncommittedInvisible", testUncommittedInvisible},
		{"ListedIffCommitted", testListedIffCommitted},
		{"AbortLeavesNothing", testAbortLeavesNothing},
		{"CommitExisting", testCommitExisting},
		{"ConcurrentDifferentKeys", testConcurrentDifferentKeys},
		{"RaceSameKey", testRaceSameKey},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ListMany", testListMany},
		{"Delete", testDelete},
		{"MissingNotFound", testMissingNotFound},
		{"InvalidKeys", testInvalidKeys},
		{"CancelledContext", testCancelledContext},
		{"CancelMidPut", testCancelMidPut},
		{"SweepSparesLiveWriter", testSweepSparesLiveWriter},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if err := s.Check(t.Context()); err != nil {
				t.Fatalf("%s.Check() = %v, want nil", s, err)
			}
			c.fn(t, s, o)
		})
	}
}

func testCheckFresh(t *testing.T, s store.Store, o *options) {
	ctx := t.Context()
	if err := s.Check(ctx); err != nil {
		t.Errorf("second Check() = %v, want nil", err)
	}
	if got := s.String(); got == "" {
		t.Errorf("String() = %q, want a description", got)
	}
	assertKeys(t, s, nil)
}

func testCommitThenRead(t *testing.T, s store.Store, o *options) {
	// Larger than a few write buffers, and not a multiple of any power of two.
	data := randomBytes(5<<20 + 12345)
	put(t, s, "snap-1.dump", data)
	assertContent(t, s, "snap-1.dump", data)
	info, err := s.Stat(t.Context(), "snap-1.dump")
	if err != nil {
		t.Fatalf("Stat(snap-1.dump) = %v, want nil", err)
	}
	if info.Key != "snap-1.dump" || info.Size != int64(len(data)) || info.ModTime.IsZero() {
		t.Errorf("Stat(snap-1.dump) = %+v, want key snap-1.dump, size %d, a ModTime", info, len(data))
	}
	list, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List() = %v, want nil", err)
	}
	if len(list) != 1 || list[0].Key != info.Key || list[0].Size != info.Size || list[0].ModTime.IsZero() {
		t.Errorf("List() = %+v, want one object like %+v", list, info)
	}
}

func testEmptyObject(t *testing.T, s store.Store, o *options) {
	put(t, s, "empty", nil)
	assertContent(t, s, "empty", nil)
	info, err := s.Stat(t.Context(), "empty")
	if err != nil || info.Size != 0 {
		t.Errorf("Stat(empty) = %+v, %v, want size 0, nil", info, err)
	}
}

func testLongestKey(t *testing.T, s store.Store, o *options) {
	key := strings.Repeat("k", 200)
	put(t, s, key, []byte("long"))
	assertContent(t, s, key, []byte("long"))
	assertKeys(t, s, []string{key})
}

func testUncommittedInvisible(t *testing.T, s store.Store, o *options) {
	ctx := t.Context()
	w := create(t, s, "pending")
	write(t, w, []byte("not yet"))
	assertKeys(t, s, nil)
	assertMissing(t, s, "pending")
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit(pending) = %v, want nil", err)
	}
	assertContent(t, s, "pending", []byte("not yet"))
}

func testAbortLeavesNothing(t *testing.T, s store.Store, o *options) {
	ctx := t.Context()
	w := create(t, s, "aborted")
	write(t, w, randomBytes(bigWrite))
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort() = %v, want nil", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort() = %v, want nil", err)
	}
	if err := w.Commit(ctx); err == nil {
		t.Errorf("Commit() after Abort = nil, want error")
	}
	assertKeys(t, s, nil)
	assertMissing(t, s, "aborted")
	assertNoTemporaries(t, s, o)

	// The key is free again, and Abort after a successful Commit keeps the object.
	w = create(t, s, "aborted")
	write(t, w, []byte("second try"))
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit(aborted) = %v, want nil", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort() after Commit = %v, want nil", err)
	}
	assertContent(t, s, "aborted", []byte("second try"))
}

func testCommitExisting(t *testing.T, s store.Store, o *options) {
	ctx := t.Context()
	first, second := []byte("first"), randomBytes(bigWrite)

	// Both writers start before either commits: the second commit must not replace the first.
	w1, w2 := create(t, s, "k"), create(t, s, "k")
	write(t, w1, first)
	write(t, w2, second)
	if err := w1.Commit(ctx); err != nil {
		t.Fatalf("Commit(k) = %v, want nil", err)
	}
	if err := w2.Commit(ctx); !errors.Is(err, store.ErrExists) {
		t.Errorf("second Commit(k) = %v, want ErrExists", err)
	}
	if err := w2.Abort(); err != nil {
		t.Errorf("Abort() after failed Commit = %v, want nil", err)
	}
	// Create on a committed key fails at once.
	if w, err := s.Create(ctx, "k"); !errors.Is(err, store.ErrExists) {
		t.Errorf("Create(k) on a committed key = %v, want ErrExists", err)
		if w != nil {
			_ = w.Abort()
		}
	}
	assertContent(t, s, "k", first)
	assertKeys(t, s, []string{"k"})
	assertNoTemporaries(t, s, o)
}

// testListedIffCommitted keeps writers in every state side by side and checks that List, Stat
// and Open show exactly the committed objects at each step.
func testListedIffCommitted(t *testing.T, s store.Store, o *options) {
	ctx := t.Context()
	big := randomBytes(bigWrite)
	put(t, s, "done", []byte("committed"))

	open := create(t, s, "open")
	write(t, open, big)
	aborted := create(t, s, "aborted")
	write(t, aborted, big)
	if err := aborted.Abort(); err != nil {
		t.Fatalf("Abort(aborted) = %v, want nil", err)
	}
	loser := create(t, s, "done-later")
	write(t, loser, big)
	cancelled := create(t, s, "cancelled")
	write(t, cancelled, big)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := cancelled.Commit(cctx); err == nil {
		t.Errorf("Commit(cancelled, cancelled ctx) = nil, want error")
	}

	assertKeys(t, s, []string{"done"})
	for _, k := range []string{"open", "aborted", "done-later", "cancelled"} {
		assertMissing(t, s, k)
	}
	put(t, s, "done-later", []byte("winner"))
	if err := loser.Commit(ctx); !errors.Is(err, store.ErrExists) {
		t.Errorf("Commit(done-later) after another writer's = %v, want ErrExists", err)
	}
	assertKeys(t, s, []string{"done", "done-later"})
	assertContent(t, s, "done-later", []byte("winner"))

	write(t, open, []byte("tail"))
	if err := open.Commit(ctx); err != nil {
		t.Fatalf("Commit(open) = %v, want nil", err)
	}
	assertKeys(t, s, []string{"done", "done-later", "open"})
	assertContent(t, s, "open", append(slices.Clone(big), "tail"...))
	assertMissing(t, s, "aborted")
	assertMissing(t, s, "cancelled")
	assertNoTemporaries(t, s, o)
}
