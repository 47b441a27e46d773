package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pgsnap/pgsnap/store"
)

func testDelete(t *testing.T, s store.Store, o *options) {
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

func testMissingNotFound(t *testing.T, s store.Store, o *options) {
	put(t, s, "present", []byte("z"))
	assertMissing(t, s, "absent")
}

// testInvalidKeys checks that every method refuses a bad key with ValidKey's reason, not with an
// answer from storage (ErrNotFound, ErrExists), which would mean it asked storage first.
func testInvalidKeys(t *testing.T, s store.Store, o *options) {
	ctx := t.Context()
	put(t, s, "a", []byte("a")) // so that "a/b" cannot pass for a missing file inside a directory
	keys := []string{"", ".hidden", "../x", "a/b", "/abs", "-dash", "sp ace", "nul\x00", strings.Repeat("k", 201)}
	for _, key := range keys {
		reason := store.ValidKey(key)
		if reason == nil {
			t.Fatalf("ValidKey(%q) = nil, want an error", key)
		}
		check := func(call string, err error) {
			t.Helper()
			switch {
			case err == nil:
				t.Errorf("%s(%q) = nil error, want error", call, key)
			case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists):
				t.Errorf("%s(%q) = %v, want a key error before touching storage", call, key, err)
			case !strings.Contains(err.Error(), reason.Error()):
				t.Errorf("%s(%q) = %v, want it to give the reason %q", call, key, err, reason)
			}
		}
		w, err := s.Create(ctx, key)
		check("Create", err)
		if err == nil {
			_ = w.Abort()
		}
		r, err := s.Open(ctx, key)
		check("Open", err)
		if err == nil {
			_ = r.Close()
		}
		_, err = s.Stat(ctx, key)
		check("Stat", err)
		check("Delete", s.Delete(ctx, key))
	}
	assertKeys(t, s, []string{"a"})
	assertNoTemporaries(t, s, o)
}

func testCancelledContext(t *testing.T, s store.Store, o *options) {
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

func testSweepSparesLiveWriter(t *testing.T, s store.Store, o *options) {
	ctx := t.Context()
	w := create(t, s, "live")
	big := randomBytes(bigWrite)
	write(t, w, big)
	if removed, err := s.Sweep(ctx); err != nil || len(removed) != 0 {
		t.Errorf("Sweep() = %q, %v, want nothing removed, nil", removed, err)
	}
	write(t, w, []byte(", done"))
	if err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit(live) after Sweep = %v, want nil", err)
	}
	assertContent(t, s, "live", append(big, ", done"...))
	if removed, err := s.Sweep(ctx); err != nil || len(removed) != 0 {
		t.Errorf("Sweep() after commit = %q, %v, want nothing removed, nil", removed, err)
	}
}

// testCancelMidPut cancels the context of a writer part way: its Commit must fail with the
// cancellation and leave nothing behind, and the key stays free.
func testCancelMidPut(t *testing.T, s store.Store, o *options) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w, err := s.Create(ctx, "interrupted")
	if err != nil {
		t.Fatalf("Create(interrupted) = %v, want nil", err)
	}
	write(t, w, randomBytes(bigWrite))
	cancel()
	_, _ = w.Write([]byte("more")) // may fail already; the commit must
	if err := w.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit(interrupted) after cancel = %v, want context.Canceled", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort() after failed Commit = %v, want nil", err)
	}
	assertKeys(t, s, nil)
	assertMissing(t, s, "interrupted")
	assertNoTemporaries(t, s, o)
	put(t, s, "interrupted", []byte("again"))
	assertContent(t, s, "interrupted", []byte("again"))
}
