package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/store"
)

func testConcurrentDifferentKeys(t *testing.T, s store.Store, o *options) {
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

func testRaceSameKey(t *testing.T, s store.Store, o *options) {
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
	assertNoTemporaries(t, s, o)
}

// testConcurrentWriters runs 8 writers at once under one store: each commits a key of its own
// and competes with three others for one of two shared keys. Every own key must commit, and
// each shared key exactly once, the losers getting ErrExists.
func testConcurrentWriters(t *testing.T, s store.Store, o *options) {
	ctx := t.Context()
	const writers = 8
	shared := func(i int) string { return fmt.Sprintf("shared-%d", i%2) }
	own := func(i int) string { return fmt.Sprintf("own-%d", i) }
	data := func(key string, i int) []byte { return bytes.Repeat([]byte(key+fmt.Sprint(i)), 3000+i) }
	start := make(chan struct{})
	ownErrs, sharedErrs := make([]error, writers), make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			w, err := s.Create(ctx, shared(i))
			if err != nil {
				sharedErrs[i] = err
				<-start
			} else {
				defer w.Abort()
				if _, err := w.Write(data(shared(i), i)); err != nil {
					sharedErrs[i] = err
					<-start
				} else {
					<-start // every writer holds its temporary object before anyone commits
					sharedErrs[i] = w.Commit(ctx)
				}
			}
			ownErrs[i] = putErr(ctx, s, own(i), data(own(i), i))
		})
	}
	close(start)
	wg.Wait()
	want := []string{}
	for i, err := range ownErrs {
		if err != nil {
			t.Errorf("put(%s) = %v, want nil", own(i), err)
		}
		want = append(want, own(i))
	}
	for k := range 2 {
		winner := -1
		for i := k; i < writers; i += 2 {
			switch err := sharedErrs[i]; {
			case err == nil && winner >= 0:
				t.Errorf("writers %d and %d both committed %s, want exactly one", winner, i, shared(i))
			case err == nil:
				winner = i
			case !errors.Is(err, store.ErrExists):
				t.Errorf("writer %d of %s: %v, want nil or ErrExists", i, shared(i), err)
			}
		}
		if winner < 0 {
			t.Errorf("no writer committed %s, errors %v", shared(k), sharedErrs)
			continue
		}
		want = append(want, shared(k))
		assertContent(t, s, shared(k), data(shared(k), winner))
	}
	for i := range writers {
		assertContent(t, s, own(i), data(own(i), i))
	}
	slices.Sort(want)
	assertKeys(t, s, want)
	assertNoTemporaries(t, s, o)
}

func writerData(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("writer %d;", i)), 1000+i)
}

func testListMany(t *testing.T, s store.Store, o *options) {
	n := o.manyObjects
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
