// Package storetest is the conformance suite every store.Store backend must pass.
//
// A backend's test calls Run with a function returning a fresh, empty store. The suite checks
// the contract written on store.Store and store.Writer: commit visibility, no-replace commits
// under races, listing order, key validation, cancellation and Sweep sparing live writers.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/store"
)

// Run runs the conformance suite against stores made by newStore (a fresh, empty store per call).
// Cases run as parallel subtests, so newStore is called from several goroutines at once. Each
// store has passed Check before a case uses it.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CheckFresh", testCheckFresh},
		{"CommitThenRead", testCommitThenRead},
		{"EmptyObject", testEmptyObject},
		{"LongestKey", testLongestKey},
		{"UncommittedInvisible", testUncommittedInvisible},
		{"AbortLeavesNothing", testAbortLeavesNothing},
		{"CommitExisting", testCommitExisting},
		{"ConcurrentDifferentKeys", testConcurrentDifferentKeys},
		{"RaceSameKey", testRaceSameKey},
		{"ListMany", testListMany},
		{"Delete", testDelete},
		{"MissingNotFound", testMissingNotFound},
		{"InvalidKeys", testInvalidKeys},
		{"CancelledContext", testCancelledContext},
		{"SweepSparesLiveWriter", testSweepSparesLiveWriter},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if err := s.Check(t.Context()); err != nil {
				t.Fatalf("%s.Check() = %v, want nil", s, err)
			}
			c.fn(t, s)
		})
	}
}

func testCheckFresh(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.Check(ctx); err != nil {
		t.Errorf("second Check() = %v, want nil", err)
	}
	if got := s.String(); got == "" {
		t.Errorf("String() = %q, want a description", got)
	}
	assertKeys(t, s, nil)
}

func testCommitThenRead(t *testing.T, s store.Store) {
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

func testEmptyObject(t *testing.T, s store.Store) {
	put(t, s, "empty", nil)
	assertContent(t, s, "empty", nil)
	info, err := s.Stat(t.Context(), "empty")
	if err != nil || info.Size != 0 {
		t.Errorf("Stat(empty) = %+v, %v, want size 0, nil", info, err)
	}
}

func testLongestKey(t *testing.T, s store.Store) {
	key := strings.Repeat("k", 200)
	put(t, s, key, []byte("long"))
	assertContent(t, s, key, []byte("long"))
	assertKeys(t, s, []string{key})
}

func testUncommittedInvisible(t *testing.T, s store.Store) {
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

func testAbortLeavesNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := create(t, s, "aborted")
	write(t, w, randomBytes(3<<20))
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

func testCommitExisting(t *testing.T, s store.Store) {
	ctx := t.Context()
	first, second := []byte("first"), []byte("second writer, longer content")

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
}

func testConcurrentDifferentKeys(t *testing.T, s store.Store) {
	keys := []string{"left", "right"}
	data := [][]byte{randomBytes(2<<20 + 1), randomBytes(2<<20 + 2)}
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { errs[i] = putErr(t.Context(), s, keys[i], data[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("put(%s) = %v, want nil", keys[i], err)
		}
	}
	for i := range keys {
		assertContent(t, s, keys[i], data[i])
	}
	assertKeys(t, s, keys)
}

func testRaceSameKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers = 8
	start := make(chan struct{})
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			w, err := s.Create(ctx, "contended")
			if err != nil {
				errs[i] = err
				return
			}
			defer w.Abort()
			if _, err := w.Write(writerData(i)); err != nil {
				errs[i] = err
				return
			}
			<-start // all writers have their temporary object before anyone commits
			errs[i] = w.Commit(ctx)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both committed, want exactly one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrExists):
			t.Errorf("writer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer committed, errors %v", errs)
	}
	assertContent(t, s, "contended", writerData(winner))
	assertKeys(t, s, []string{"contended"})
}

func writerData(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("writer %d;", i)), 1000+i)
}

func testListMany(t *testing.T, s store.Store) {
	const n = 1100
	var want []string
	for i := range n {
		// Mixed classes check byte order: '-' < '.' < digits < upper < '_' < lower.
		want = append(want, fmt.Sprintf("%c%04d%s", "aB7"[i%3], i, []string{"", "-x", ".x", "_x"}[i%4]))
	}
	keys := slices.Clone(want)
	rand.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	jobs := make(chan string)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for k := range jobs {
				errs <- putErr(t.Context(), s, k, []byte(k))
			}
		})
	}
	for _, k := range keys {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	slices.Sort(want)
	list, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List() = %v, want nil", err)
	}
	var got []string
	for _, info := range list {
		got = append(got, info.Key)
		if info.Size != int64(len(info.Key)) {
			t.Errorf("List() entry %s has size %d, want %d", info.Key, info.Size, len(info.Key))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List() keys mismatch (-want +got):\n%s", diff)
	}
}

func testDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.Delete(ctx, "never-written"); err != nil {
		t.Errorf("Delete(never-written) = %v, want nil", err)
	}
	put(t, s, "doomed", []byte("x"))
	put(t, s, "kept", []byte("y"))
	for range 2 {
		if err := s.Delete(ctx, "doomed"); err != nil {
			t.Errorf("Delete(doomed) = %v, want nil", err)
		}
	}
	assertMissing(t, s, "doomed")
	assertKeys(t, s, []string{"kept"})
	assertContent(t, s, "kept", []byte("y"))
}

func testMissingNotFound(t *testing.T, s store.Store) {
	put(t, s, "present", []byte("z"))
	assertMissing(t, s, "absent")
}

func testInvalidKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, key := range []string{"", ".hidden", "../x", "a/b", "/abs", "-dash", strings.Repeat("k", 201)} {
		if w, err := s.Create(ctx, key); err == nil {
			t.Errorf("Create(%q) = nil error, want error", key)
			_ = w.Abort()
		}
		if r, err := s.Open(ctx, key); err == nil {
			t.Errorf("Open(%q) = nil error, want error", key)
			_ = r.Close()
		}
		if _, err := s.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) = nil error, want error", key)
		}
		if err := s.Delete(ctx, key); err == nil {
			t.Errorf("Delete(%q) = nil, want error", key)
		}
	}
	assertKeys(t, s, nil)
}

func testCancelledContext(t *testing.T, s store.Store) {
	put(t, s, "existing", []byte("data"))
	w := create(t, s, "late")
	defer w.Abort()
	write(t, w, []byte("never committed"))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"Check":  func() error { return s.Check(ctx) },
		"Create": func() error { _, err := s.Create(ctx, "new"); return err },
		"Open":   func() error { _, err := s.Open(ctx, "existing"); return err },
		"Stat":   func() error { _, err := s.Stat(ctx, "existing"); return err },
		"List":   func() error { _, err := s.List(ctx); return err },
		"Delete": func() error { return s.Delete(ctx, "existing") },
		"Sweep":  func() error { _, err := s.Sweep(ctx); return err },
		"Commit": func() error { return w.Commit(ctx) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s(cancelled ctx) = %v, want context.Canceled", name, err)
		}
	}
	assertContent(t, s, "existing", []byte("data"))
	assertKeys(t, s, []string{"existing"})
}

func testSweepSparesLiveWriter(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := create(t, s, "live")
	write(t, w, []byte("still writing"))
	if removed, err := s.Sweep(ctx); err != nil || len(removed) != 0 {
		t.Errorf("Sweep() = %q, %v, want nothing removed, nil", removed, err)
	}
	write(t, w, []byte(", done"))
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit(live) after Sweep = %v, want nil", err)
	}
	assertContent(t, s, "live", []byte("still writing, done"))
	if removed, err := s.Sweep(ctx); err != nil || len(removed) != 0 {
		t.Errorf("Sweep() after commit = %q, %v, want nothing removed, nil", removed, err)
	}
}
