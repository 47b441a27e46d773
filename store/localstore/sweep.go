package localstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Sweep removes temporary files whose writers have ended: files named like temporary files,
// regular, whose flock Sweep can take. The kernel releases a writer's lock when the writer closes
// the file or its process dies, so a lock Sweep obtains proves the writer is gone, whatever the
// file's age (see createTemp for the instant before a writer's lock). Any other file is never
// touched. Sweep returns the names it removed; an error on one file does not stop the others.
func (s *Store) Sweep(ctx context.Context) ([]string, error) {
	return s.sweep(ctx, nil)
}

// SweepKeys is Sweep for the temporary files of the keys match accepts. The flock is still
// the proof: a local store needs no more from its caller.
func (s *Store) SweepKeys(ctx context.Context, match func(key string) bool) ([]string, error) {
	return s.sweep(ctx, match)
}

func (s *Store) sweep(ctx context.Context, match func(key string) bool) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", s.dir, err)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !isTemp(e.Name()) || !e.Type().IsRegular() || match != nil && !match(tempKey(e.Name())) {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("sweep %s: %w", s.dir, err))
			break
		}
		ok, err := sweepFile(filepath.Join(s.dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			removed = append(removed, e.Name())
		}
	}
	return removed, errors.Join(errs...)
}

// sweepFile removes the temporary file p if it is stale and unlocked, reporting whether it did.
func sweepFile(p string) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return false, ignoreNotExist(err)
	}
	if !fi.Mode().IsRegular() {
		return false, nil
	}
	f, err := os.OpenFile(p, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return false, ignoreNotExist(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return false, nil // a live writer holds it
		}
		return false, pathError("flock", p, err)
	}
	// Only the file we locked may go: the name must still be that file, not one renamed in since.
	locked, err := f.Stat()
	if err != nil {
		return false, err
	}
	if cur, err := os.Lstat(p); err != nil || !os.SameFile(locked, cur) {
		return false, ignoreNotExist(err)
	}
	// Removed while the lock is held, so no writer can be using it in between.
	if err := os.Remove(p); err != nil {
		return false, ignoreNotExist(err)
	}
	return true, nil
}

func ignoreNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// tempKey is the key a temporary file name was made for: .pgsnap-tmp.<key>.<16 hex digits>.
func tempKey(name string) string {
	k := strings.TrimPrefix(name, tempPrefix)
	if i := strings.LastIndexByte(k, '.'); i > 0 {
		return k[:i]
	}
	return k
}
