// Package store defines how pgsnap keeps named objects: the interface every storage backend
// implements, the key rules they share and the sentinel errors callers branch on.
//
// A store knows nothing of snapshots or manifests. The root package assembles a snapshot from two
// objects (data, then manifest) and relies on three promises made here: an object is invisible
// until its writer commits, a commit never replaces an existing object, and temporary objects are
// removed only when their writer has provably ended.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// maxKeyLen is the longest accepted key, in bytes. It leaves room within a 255-byte file name
// for the prefix and random suffix a backend adds to temporary objects.
const maxKeyLen = 200

var (
	// ErrNotFound reports that no committed object has the requested key.
	ErrNotFound = errors.New("object not found")
	// ErrExists reports that an object with the key is already committed.
	ErrExists = errors.New("object already exists")
)

// Info describes a committed object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Store keeps named objects. Keys are flat names: see ValidKey. Implementations are safe for
// concurrent use by several goroutines and several processes sharing the same location.
//
// Every method checks ctx first and returns its error (errors.Is(err, context.Canceled)) when it
// is already done. Every method rejects a key that fails ValidKey with an error before touching
// storage. Errors name the location or object they concern.
type Store interface {
	// Check verifies the store is usable for writing: creates the location if missing (private) and
	// probes a write. Called at start-up so a bad location fails before any dump.
	Check(ctx context.Context) error
	// Create starts writing a new object. Nothing is visible under key (List, Stat, Open) until
	// Commit returns nil. Returns ErrExists (wrapped) if key is already committed. The caller ends
	// the Writer with Commit or Abort.
	Create(ctx context.Context, key string) (Writer, error)
	// Open reads a committed object; ErrNotFound (wrapped) when missing. Caller closes.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes a committed object; ErrNotFound (wrapped) when missing.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns committed objects (never temporary ones), sorted by key.
	List(ctx context.Context) ([]Info, error)
	// Delete removes a committed object; deleting a missing object returns nil. When Delete
	// returns nil the removal is durable, so callers can order deletions.
	Delete(ctx context.Context, key string) error
	// Sweep removes temporary objects left by writers that provably ended (crashed), and returns
	// their names. A live writer's temporary object is never removed.
	Sweep(ctx context.Context) ([]string, error)
	// String describes the store for logs, e.g. "local:/snapshots".
	String() string
}

// Writer receives one object's bytes. Exactly one of Commit or Abort ends it; Abort after Commit is
// a no-op returning nil, so `defer w.Abort()` is the cleanup idiom. A Writer is used by one
// goroutine at a time. After a failed Write the object cannot be committed: Commit returns the
// write error.
type Writer interface {
	io.Writer
	// Commit makes the object durable and visible atomically. It never replaces an existing object:
	// ErrExists (wrapped) if key was committed meanwhile (the temporary object is removed). On any
	// error nothing is visible under key and the temporary object is removed.
	Commit(ctx context.Context) error
	// Abort discards the object and removes its temporary data. It is idempotent.
	Abort() error
}

// Verifier is implemented by Writers that can confirm, after Commit, that the stored object
// holds exactly the bytes whose SHA-256 the caller computed, without reading them back (an S3
// store compares the checksums the server computed on upload). An error says they differ or
// that the store cannot tell; the caller then reads the object back.
type Verifier interface {
	Verify(ctx context.Context, sha256 []byte) error
}

// KeySweeper is implemented by stores that can remove the temporary objects (a local
// temporary file, an S3 multipart upload) of chosen keys whatever their age. The caller proves
// that no writer of those keys is alive (pgsnap holds the target's writer lock); a store that can
// prove it on its own (a free file lock) still checks.
type KeySweeper interface {
	SweepKeys(ctx context.Context, match func(key string) bool) ([]string, error)
}

// ValidKey reports whether key is an acceptable object key: 1-200 bytes of [A-Za-z0-9._-], not
// starting with '.' or '-'. Returns an error describing the problem.
func ValidKey(key string) error {
	switch {
	case key == "":
		return errors.New("invalid key: empty")
	case len(key) > maxKeyLen:
		return fmt.Errorf("invalid key %.20q...: %d bytes, at most %d allowed", key, len(key), maxKeyLen)
	case key[0] == '.' || key[0] == '-':
		return fmt.Errorf("invalid key %q: starts with %q", key, key[0])
	}
	for i := 0; i < len(key); i++ {
		if !keyByte(key[i]) {
			return fmt.Errorf("invalid key %q: byte %q at offset %d, want [A-Za-z0-9._-]", key, key[i], i)
		}
	}
	return nil
}

func keyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}
