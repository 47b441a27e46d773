package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/store"
)

// putErr writes and commits one object, for goroutines that cannot call t.Fatal.
func putErr(ctx context.Context, s store.Store, key string, data []byte) (err error) {
	w, err := s.Create(ctx, key)
	if err != nil {
		return err
	}
	defer func() {
		if abortErr := w.Abort(); err == nil {
			err = abortErr
		}
	}()
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return w.Commit(ctx)
}

func put(t *testing.T, s store.Store, key string, data []byte) {
	t.Helper()
	if err := putErr(t.Context(), s, key, data); err != nil {
		t.Fatalf("put(%s) = %v, want nil", key, err)
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

func assertContent(t *testing.T, s store.Store, key string, want []byte) {
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
	if !bytes.Equal(got, want) {
		t.Errorf("content of %s = %d bytes (%.32q), want %d bytes (%.32q)", key, len(got), got, len(want), want)
	}
}

// assertKeys checks that List returns exactly want (nil for an empty store), in order.
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

// assertMissing checks that key is invisible to Open and Stat.
func assertMissing(t *testing.T, s store.Store, key string) {
	t.Helper()
	r, err := s.Open(t.Context(), key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Open(%s) = %v, want ErrNotFound", key, err)
		if err == nil {
			_ = r.Close()
		}
	} else if !strings.Contains(err.Error(), key) {
		t.Errorf("Open(%s) = %v, want the error to name the key", key, err)
	}
	info, err := s.Stat(t.Context(), key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat(%s) = %+v, %v, want ErrNotFound", key, info, err)
	} else if !strings.Contains(err.Error(), key) {
		t.Errorf("Stat(%s) = %v, want the error to name the key", key, err)
	}
}

// assertNoTemporaries checks, when the backend lets the suite see them, that no temporary object
// is left.
func assertNoTemporaries(t *testing.T, s store.Store, o *options) {
	t.Helper()
	if o.temporaries == nil {
		return
	}
	if temps := o.temporaries(t, s); len(temps) != 0 {
		t.Errorf("temporary objects left = %q, want none", temps)
	}
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
