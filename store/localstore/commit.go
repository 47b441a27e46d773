package localstore

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pgsnap/pgsnap/internal/failpoint"
	"github.com/pgsnap/pgsnap/store"
)

const (
	// tempPrefix starts every temporary file name. The leading '.' makes it an invalid key, so List
	// never shows a temporary file and no key can collide with one.
	tempPrefix = ".pgsnap-tmp."
	// bufSize batches the small writes of a compressing pipeline into large write(2) calls.
	bufSize = 1 << 20
)

// Create starts writing a new object under a temporary name. It returns an error wrapping
// store.ErrExists if key is already committed. Create does not create the directory: Check does.
func (s *Store) Create(ctx context.Context, key string) (store.Writer, error) {
	final, err := s.start(ctx, "create", key)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("create %s: %w", final, store.ErrExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, tmp, err := createTemp(s.dir, key)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) {
			// O_CREAT fails this way only when the directory is missing, which Check would fix.
			return nil, fmt.Errorf("create %s: store directory %s: %w", final, s.dir, pe.Err)
		}
		return nil, err
	}
	return &writer{dir: s.dir, final: final, tmp: tmp, f: f, buf: bufio.NewWriterSize(f, bufSize)}, nil
}

// createTemp creates and locks a private temporary file for key in dir. The exclusive flock
// marks the file as owned by a live writer: Sweep removes only files whose lock it can take,
// which the kernel allows once the owning process has closed the file or died. Between the
// open and the flock the file exists unlocked; a Sweep that removes it in that instant leaves
// this writer a lock on a file with no name, which the check after the flock notices, and one
// that holds the file's lock to remove it makes the flock fail: either way the writer starts
// over with a new name. So Sweep needs no age to be safe. The file is opened O_CLOEXEC
// (os does so always), so child processes such as pg_dump never inherit the lock and keep it
// alive past the writer.
func createTemp(dir, key string) (*os.File, string, error) {
	for range 8 {
		var rnd [8]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, "", fmt.Errorf("create temporary file in %s: %w", dir, err)
		}
		tmp := filepath.Join(dir, tempPrefix+key+"."+hex.EncodeToString(rnd[:]))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if err != nil {
			return nil, "", pathError("create", tmp, err)
		}
		failpoint.Hit("before-temp-lock", tmp) // where a Sweep can see the file unlocked
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
			_ = f.Close() // a Sweep holds it and removes it: start over
			continue
		} else if err != nil {
			return nil, "", discard(f, tmp, pathError("flock", tmp, err))
		}
		if locked, err := f.Stat(); err != nil {
			return nil, "", discard(f, tmp, err)
		} else if cur, err := os.Lstat(tmp); err != nil || !os.SameFile(locked, cur) {
			_ = f.Close() // swept before the lock: not ours any more
			continue
		}
		// The mode given to open is filtered by the umask; fchmod is not, and makes 0600 exact.
		if err := f.Chmod(fileMode); err != nil {
			return nil, "", discard(f, tmp, pathError("chmod", tmp, err))
		}
		return f, tmp, nil
	}
	return nil, "", fmt.Errorf("create temporary file for %s in %s: swept away before it could be locked, 8 times", key, dir)
}

// discard removes and closes a temporary file after err, returning err. The file is removed
// before it is closed so the lock is still held: no Sweep can see it unlocked meanwhile.
func discard(f *os.File, tmp string, err error) error {
	_ = os.Remove(tmp)
	_ = f.Close()
	return err
}

// writer streams one object into its temporary file.
type writer struct {
	dir, final, tmp string
	f               *os.File // nil once the writer has ended
	buf             *bufio.Writer
	err             error // first failure; once set, the temporary file is gone
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.f == nil {
		return 0, fmt.Errorf("write %s: writer already ended", w.final)
	}
	n, err := w.buf.Write(p)
	if err != nil {
		// Nothing can commit after a failed write; drop the temporary file now so a full disk
		// gets its space back even before the caller's Abort.
		w.fail(err)
	}
	return n, err
}

// Commit flushes and fsyncs the temporary file, renames it to the key without replacing an
// existing object, and fsyncs the directory. On any error the temporary file is removed.
func (w *writer) Commit(ctx context.Context) (err error) {
	if w.err != nil {
		return w.err
	}
	if w.f == nil {
		return fmt.Errorf("commit %s: writer already ended", w.final)
	}
	defer func() {
		if err != nil {
			w.fail(err)
		}
	}()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit %s: %w", w.final, err)
	}
	if err := w.buf.Flush(); err != nil {
		return err
	}
	// Crash points of the fault tests (T3). Data objects, manifests and intent records all
	// commit here, so each name ends in the key's last extension to strike one kind only:
	// commit-before-fsync.zst is a zstd data object's, commit-before-fsync.json a manifest's.
	failpoint.Hit("commit-before-fsync"+filepath.Ext(w.final), w.tmp)
	if err := w.f.Sync(); err != nil {
		return err
	}
	failpoint.Hit("commit-before-rename"+filepath.Ext(w.final), w.tmp)
	if err := renameNoReplace(w.tmp, w.final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("commit %s: %w", w.final, store.ErrExists)
		}
		return err
	}
	// The object is now visible under its key. Only the directory fsync makes the rename durable;
	// if it fails the caller must not build on the object (a manifest naming it could outlive it
	// in a power cut), so the object is taken back.
	failpoint.Hit("commit-before-dir-fsync"+filepath.Ext(w.final), w.final)
	if err := syncDir(w.dir); err != nil {
		_ = os.Remove(w.final)
		return fmt.Errorf("commit %s: %w", w.final, err)
	}
	// Closing releases the lock. The data is already durable, so a close error could not mean
	// lost bytes and must not turn a committed object into a reported failure.
	_ = w.f.Close()
	w.f = nil
	return nil
}

// Abort removes the temporary file. It is a no-op once the writer has ended.
func (w *writer) Abort() error {
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	rmErr := os.Remove(w.tmp)
	closeErr := f.Close()
	if rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
		return rmErr
	}
	return closeErr
}

// fail ends the writer after err, removing its temporary file.
func (w *writer) fail(err error) {
	w.err = err
	if w.f != nil {
		_ = discard(w.f, w.tmp, nil)
		w.f = nil
	}
}

// linkNoReplace gives tmp's file the name final, failing with an error wrapping fs.ErrExist if
// final exists, then drops the name tmp. If the process dies between the two steps, the leftover
// temporary name is a second link to the committed file; Sweep removing it loses nothing.
func linkNoReplace(tmp, final string) error {
	if err := os.Link(tmp, final); err != nil {
		return err
	}
	// The object is committed; a temporary name that failed to go is Sweep's to remove.
	_ = os.Remove(tmp)
	return nil
}

// pathError gives err the operation and path, unless it already names them.
func pathError(op, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}

// isTemp reports whether a directory entry name is a temporary file's.
func isTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }
