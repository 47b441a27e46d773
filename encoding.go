package pgsnap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// CompressionZstd means the stored object is the archive compressed by pgsnap with zstd, and
// pg_dump wrote it uncompressed (-Z0): the data blocks are plain COPY text, which lets pgsnap
// count rows as the stream passes.
const CompressionZstd = "zstd"

// zstdSuffix ends the data object's key for zstd-compressed snapshots.
const zstdSuffix = ".dump.zst"

// newEncoder compresses into w. Close must always be called, also after an error, to end the
// encoder's goroutines.
func newEncoder(w io.Writer) (*zstd.Encoder, error) {
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	return enc, nil
}

// archiveReader returns the archive (pg_dump custom format) held in a stored object read from r,
// decoding it as the manifest's compression says. Closing it releases the decoder; it does not
// close r.
func archiveReader(r io.Reader, compression string) (io.ReadCloser, error) {
	switch compression {
	case CompressionPGDump:
		return io.NopCloser(r), nil
	case CompressionZstd:
		dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd decoder: %w", err)
		}
		return dec.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("unknown compression %q", compression)
}

// openArchive opens a snapshot's data object and decodes it.
func (s *Scheduler) openArchive(ctx context.Context, snap Snapshot) (io.ReadCloser, error) {
	r, err := s.store.Open(ctx, snap.Data)
	if err != nil {
		return nil, &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("data object: %v", err)}
	}
	a, err := archiveReader(readerWithContext(ctx, r), snap.Compression)
	if err != nil {
		r.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{a, closers{a, r}}, nil
}

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// archiveFile returns a file holding the snapshot's decoded archive, for pg_restore, which
// needs a file to restore in parallel, and a func that removes it when it is a temporary copy.
// The stored bytes are checked against the manifest on the way. A copy is private (0600) and
// made in dir (the OS temp dir when empty) after checking it has room.
func (s *Scheduler) archiveFile(ctx context.Context, snap Snapshot, dir string) (path string, cleanup func(), err error) {
	noop := func() {}
	if snap.Compression == CompressionPGDump {
		// The stored object is the archive: a local store hands out its own file.
		if fp, ok := s.store.(filePather); ok {
			if err := s.verifyData(ctx, snap, io.Discard); err != nil {
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
	err = s.decodeVerified(ctx, snap, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("SNAPSHOT_TMPDIR: %w", cerr)
	}
	if err != nil {
		remove()
		return "", noop, err
	}
	return f.Name(), remove, nil
}

// errDecoderStopped ends the checksum pass when the decoder gave up first.
var errDecoderStopped = errors.New("decoder stopped")

// decodeVerified writes the snapshot's decoded archive to w, checking the stored bytes' size and
// SHA-256 against the manifest in the same pass. A decode failure or a mismatch is a
// *CorruptError; a failure to write to w is returned as it is.
func (s *Scheduler) decodeVerified(ctx context.Context, snap Snapshot, w io.Writer) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// The checksum pass feeds the decoder through the pipe and closes it with its result,
		// so the decoder sees the end of the stream or the reason it was cut.
		err := s.verifyData(ctx, snap, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	a, err := archiveReader(pr, snap.Compression)
	if err == nil {
		_, err = io.Copy(writeTagger{w}, a)
		a.Close()
	}
	pr.CloseWithError(errDecoderStopped)
	verifyErr := <-done
	switch {
	case verifyErr != nil && !errors.Is(verifyErr, errDecoderStopped):
		return verifyErr // a mismatch, a missing object, or cancellation: the cause
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	if we, ok := errors.AsType[*writeError](err); ok {
		return we.err
	}
	return &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("decode %s: %v", snap.Compression, err)}
}

// writeTagger marks errors of its writer, to tell them from the reader's in io.Copy.
type writeTagger struct{ w io.Writer }

func (t writeTagger) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }
