package restore

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/codec"
)

// cleanupTimeout bounds cleanup work done after the caller's context has ended.
const cleanupTimeout = 10 * time.Second

// filePather is a store that can name a committed object's path on the local file system.
type filePather interface {
	Path(key string) (string, error)
}

// ArchiveFile returns a file holding snap's decoded archive, for pg_restore, which needs a file
// to restore in parallel, and a func that removes it when it is a temporary copy. The stored
// bytes are checked against the manifest on the way, and the table of contents gets the data
// offsets pg_dump could not write into a pipe, so each pg_restore job seeks straight to its
// block instead of reading the file through. A copy is private (0600) and made in
// SNAPSHOT_TMPDIR (the OS temp dir when empty) after checking it has room.
func (r *Restorer) ArchiveFile(ctx context.Context, snap catalog.Snapshot) (path string, cleanup func(), err error) {
	noop := func() {}
	if (snap.Compression == codec.PGDump || snap.Compression == codec.None) && !snap.Encrypted {
		// The stored object is the archive: a local store hands out its own file.
		if fp, ok := r.cat.SourceOf(snap).Store.(filePather); ok {
			if err := r.cat.Copy(ctx, snap, catalog.Plain, io.Discard); err != nil {
				return "", noop, err
			}
			p, err := fp.Path(snap.Data)
			return p, noop, err
		}
	}
	need := snap.ArchiveSize
	if need == 0 {
		need = snap.Size
	}
	dir := r.cfg.TempDir
	if err := checkFreeSpace(dir, need); err != nil {
		return "", noop, err
	}
	f, err := os.CreateTemp(dir, "pgsnap-restore-*.dump")
	if err != nil {
		return "", noop, fmt.Errorf("SNAPSHOT_TMPDIR: %w", err)
	}
	remove := func() { os.Remove(f.Name()) }
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		remove()
		return "", noop, err
	}
	counter := archive.NewCounter()
	err = r.cat.Copy(ctx, snap, catalog.Archive, io.MultiWriter(f, counter))
	if err == nil {
		r.fillOffsets(snap, f, counter)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("SNAPSHOT_TMPDIR: %w", cerr)
	}
	if err != nil {
		remove()
		return "", noop, err
	}
	return f.Name(), remove, nil
}

// fillOffsets writes the data offsets into the decoded archive f. An archive it cannot patch
// restores all the same, only slower.
func (r *Restorer) fillOffsets(snap catalog.Snapshot, f *os.File, counter *archive.Counter) {
	off, err := counter.Offsets()
	if err == nil {
		err = off.Patch(f)
	}
	if err != nil {
		r.log.Warn("archive offsets not filled in; pg_restore reads it through for each block", "snapshot", snap.Name, "err", err)
	}
}
