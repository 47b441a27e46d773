// Package localstore implements store.Store on a directory of a local file system.
//
// Each committed object is a regular file named by its key. A writer streams into a hidden
// temporary file in the same directory, holds an flock(2) on it while it lives, and commits with
// fsync, a rename that never replaces, and an fsync of the directory. Files are 0600 and the
// directories Check creates are 0700, whatever the umask.
package localstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/pgsnap/pgsnap/store"
)

const (
	fileMode     = 0o600
	dirMode      = 0o700
	openNoFollow = unix.O_NOFOLLOW
)

var (
	_ store.Store      = (*Store)(nil)
	_ store.KeySweeper = (*Store)(nil)
)

// Store is a directory on a local file system.
type Store struct {
	dir string
}

// New returns a Store keeping objects in dir. It does no I/O: call Check to create the directory
// and verify it is writable. A relative dir is resolved against the working directory now.
func New(dir string) *Store {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &Store{dir: filepath.Clean(dir)}
}

// Dir returns the store's directory as an absolute path.
func (s *Store) Dir() string { return s.dir }

// String describes the store for logs, as "local:" followed by the directory.
func (s *Store) String() string { return "local:" + s.dir }

// Path returns the absolute path of a committed object, for tools that need a file (pg_restore).
// It returns an error wrapping store.ErrNotFound when no such object is committed.
func (s *Store) Path(key string) (string, error) {
	p, err := s.objectPath(key)
	if err != nil {
		return "", err
	}
	if _, err := lstatObject("path", p); err != nil {
		return "", err
	}
	return p, nil
}

// Open opens a committed object for reading. The caller closes it.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := s.start(ctx, "open", key)
	if err != nil {
		return nil, err
	}
	if _, err := lstatObject("open", p); err != nil {
		return nil, err
	}
	// O_NOFOLLOW: the name was checked to be a regular file; refuse a symlink swapped in since.
	f, err := os.OpenFile(p, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return nil, notFound("open", p, err)
	}
	return f, nil
}

// Stat describes a committed object.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	p, err := s.start(ctx, "stat", key)
	if err != nil {
		return store.Info{}, err
	}
	fi, err := lstatObject("stat", p)
	if err != nil {
		return store.Info{}, err
	}
	return store.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List returns the committed objects sorted by key: the regular files whose names are valid
// keys. Temporary files are hidden names and never valid keys, so they never appear.
func (s *Store) List(ctx context.Context) ([]store.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", s.dir, err)
	}
	// os.ReadDir sorts by name, which is the byte order List promises.
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	infos := make([]store.Info, 0, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() || store.ValidKey(e.Name()) != nil {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", s.dir, err)
		}
		infos = append(infos, store.Info{Key: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return infos, nil
}

// Delete removes a committed object and fsyncs the directory, so a deletion that returned is
// durable before the caller deletes the next object. A missing object is not an error; a name
// that is not a regular file is not an object and is left alone.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.start(ctx, "delete", key)
	if err != nil {
		return err
	}
	if _, err := lstatObject("delete", p); errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return syncDir(s.dir)
}

// start checks ctx and key for a method operating on one object and returns the object's path.
func (s *Store) start(ctx context.Context, op, key string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("%s %s: %w", op, filepath.Join(s.dir, key), err)
	}
	p, err := s.objectPath(key)
	if err != nil {
		return "", fmt.Errorf("%s in %s: %w", op, s.dir, err)
	}
	return p, nil
}

// objectPath maps a key to its file. ValidKey admits no '/' and no leading '.', so the result is
// always a direct child of the directory.
func (s *Store) objectPath(key string) (string, error) {
	if err := store.ValidKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.dir, key), nil
}

// lstatObject returns the file info of a committed object at p, or an error wrapping
// store.ErrNotFound when p is missing or is not a regular file.
func lstatObject(op, p string) (fs.FileInfo, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, notFound(op, p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s: not a regular file: %w", op, p, store.ErrNotFound)
	}
	return fi, nil
}

// notFound turns a missing file into store.ErrNotFound, naming the path; other errors pass.
func notFound(op, p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", op, p, store.ErrNotFound)
	}
	return err
}

// syncDir fsyncs a directory so the names created or removed in it survive a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}
