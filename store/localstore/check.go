package localstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Check makes sure the store can take objects: it creates the directory and any missing parents
// (each 0700; an existing directory keeps its mode), then creates, writes, fsyncs and removes a
// probe file. Errors name the operation, the path and the process's uid and gid, since the usual
// cause is a directory owned by another user.
func (s *Store) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("check %s: %w", s.dir, err)
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("%w (running as uid %d gid %d)", err, os.Geteuid(), os.Getegid())
	}
	return nil
}

func (s *Store) check() error {
	if err := mkdirPrivate(s.dir); err != nil {
		return err
	}
	f, tmp, err := createTemp(s.dir, "probe")
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte("pgsnap write probe\n")); err != nil {
		return discard(f, tmp, pathError("write", tmp, err))
	}
	if err := f.Sync(); err != nil {
		return discard(f, tmp, pathError("fsync", tmp, err))
	}
	return discard(f, tmp, nil)
}

// mkdirPrivate creates dir and its missing parents with mode 0700. Mkdir's mode is filtered by
// the umask, so each directory it creates is chmodded after; directories that already exist,
// including ones another process creates concurrently, are left as they are.
func mkdirPrivate(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("check %s: is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	missing := []string{dir}
	for p := dir; ; {
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		fi, err := os.Stat(parent)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("mkdir %s: %s is not a directory", dir, parent)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, parent)
		p = parent
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		if err := os.Mkdir(p, dirMode); err != nil {
			if fi, serr := os.Stat(p); errors.Is(err, fs.ErrExist) && serr == nil && fi.IsDir() {
				continue
			}
			return err
		}
		if err := os.Chmod(p, dirMode); err != nil {
			return err
		}
		// Make the new directory's own name durable, as commits only fsync the directory itself.
		// A parent we may write but not read (mode 0733) cannot be opened to fsync; that costs
		// durability of the name only, so it does not fail Check.
		if err := syncDir(filepath.Dir(p)); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	return nil
}
