package pgsnap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/pgsnap/pgsnap/internal/zstdpar"
)

// CompressionZstd means the stored object is the archive compressed by pgsnap with zstd, in
// independent frames, and pg_dump wrote it uncompressed (-Z0): the data blocks are plain COPY
// text, which lets pgsnap count rows as the stream passes.
const CompressionZstd = "zstd"

// zstdSuffix ends the data object's key for zstd-compressed snapshots.
const zstdSuffix = ".dump.zst"

// dataSuffixFor is the suffix of a data object's key: <name>.dump[.zst][.age].
func dataSuffixFor(compression string, encrypted bool) string {
	suffix := dataSuffix
	if compression == CompressionZstd {
		suffix = zstdSuffix
	}
	if encrypted {
		suffix += ageSuffix
	}
	return suffix
}

// nameOfData returns the snapshot name a data object's key belongs to.
func nameOfData(key string) (string, bool) {
	key, _ = strings.CutSuffix(key, ageSuffix)
	if k, ok := strings.CutSuffix(key, ".sql.zst"); ok {
		return k, true
	}
	if k, ok := strings.CutSuffix(key, ".sql"); ok {
		return k, true
	}
	if name, ok := strings.CutSuffix(key, zstdSuffix); ok {
		return name, true
	}
	return strings.CutSuffix(key, dataSuffix)
}

// encoding is how the next snapshot is stored, from the configuration.
type encoding struct {
	spec       compressionSpec
	threads    int
	chunkSize  int
	recipients []age.Recipient
	keys       []string // the recipients' public keys, for the manifest
}

func (s *Scheduler) encoding() (encoding, error) {
	spec, err := parseCompression(s.cfg.Compression)
	if err != nil {
		return encoding{}, lookupSetting("SNAPSHOT_COMPRESSION").error(s.cfg.Compression, err)
	}
	recipients, err := s.cfg.ageRecipients()
	if err != nil {
		return encoding{}, err
	}
	threads := s.cfg.CompressionThreads
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	return encoding{spec: spec, threads: threads, chunkSize: zstdpar.DefaultChunkSize,
		recipients: recipients, keys: s.cfg.AgeRecipients}, nil
}

// describe records the encoding in a manifest.
func (e encoding) describe(snap *Snapshot) {
	snap.Compression = e.spec.kind
	if e.spec.kind == CompressionZstd {
		snap.CompressionLevel = e.spec.level.String()
		snap.ChunkSize = int64(e.chunkSize)
	}
	if len(e.recipients) > 0 {
		snap.Encrypted = true
		snap.Encryption = EncryptionAge
		snap.Recipients = e.keys
	}
}

func (e encoding) suffix() string { return dataSuffixFor(e.spec.kind, len(e.recipients) > 0) }

// encoder takes the archive and writes the stored bytes (compressed, then encrypted) to w.
// Compression runs on its own goroutines, so Write only hands the archive over. Close flushes
// every stage and must always be called, also after an error, to end those goroutines.
type encoder struct {
	in     io.Writer
	zw     *zstdpar.Writer // nil without compression
	ageW   io.WriteCloser  // nil without encryption
	closed bool
}

func (e encoding) newEncoder(w io.Writer) (*encoder, error) {
	enc := &encoder{in: w}
	if len(e.recipients) > 0 {
		aw, err := age.Encrypt(w, e.recipients...)
		if err != nil {
			return nil, fmt.Errorf("age encryption: %w", err)
		}
		enc.ageW, enc.in = aw, aw
	}
	if e.spec.kind == CompressionZstd {
		zw, err := zstdpar.NewWriter(enc.in, zstdpar.Options{Level: e.spec.level, ChunkSize: e.chunkSize, Threads: e.threads})
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		enc.zw, enc.in = zw, zw
	}
	return enc, nil
}

func (e *encoder) Write(p []byte) (int, error) { return e.in.Write(p) }

// Close flushes the compressor, then ends the age stream (its last chunk is authenticated as
// the last: a truncated object does not decrypt).
func (e *encoder) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	if e.zw != nil {
		errs = append(errs, e.zw.Close())
	}
	if e.ageW != nil && errors.Join(errs...) == nil {
		errs = append(errs, e.ageW.Close())
	}
	return errors.Join(errs...)
}

// Abort stops every stage without flushing: the stored object is being thrown away.
func (e *encoder) Abort(err error) {
	if e.closed {
		return
	}
	e.closed = true
	if e.zw != nil {
		e.zw.Abort(err)
		e.zw.Close() // waits for its goroutines; the error is err
	}
}

// checkedReader reads a stored object while hashing it; verify compares with the manifest.
type checkedReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func newCheckedReader(r io.Reader) *checkedReader { return &checkedReader{r: r, h: sha256.New()} }

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// verify reads what is left of the object and compares its size and SHA-256 with snap's.
func (c *checkedReader) verify(snap Snapshot) error {
	if _, err := io.Copy(io.Discard, c); err != nil {
		return fmt.Errorf("read snapshot %s: %w", snap.Name, err)
	}
	if c.n != snap.Size {
		return &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("size %d, manifest says %d", c.n, snap.Size)}
	}
	if got := hex.EncodeToString(c.h.Sum(nil)); got != snap.SHA256 {
		return &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("sha256 %s, manifest says %s", got, snap.SHA256)}
	}
	return nil
}

// storedObject is an open data object: raw counts and hashes the stored bytes, plain yields
// them decrypted (still compressed).
type storedObject struct {
	raw   *checkedReader
	plain io.Reader
	close func() error
}

// openStored opens snap's data object and, when it is encrypted, decrypts it with
// SNAPSHOT_AGE_IDENTITY_FILE. Close it with close.
func (s *Scheduler) openStored(ctx context.Context, snap Snapshot) (*storedObject, error) {
	var ids []age.Identity
	if snap.Encrypted {
		var err error
		if ids, err = s.identities(snap); err != nil {
			return nil, err
		}
	}
	r, err := s.storeOf(snap).st.Open(ctx, snap.Data)
	if err != nil {
		return nil, &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("data object: %v", err)}
	}
	s.progress.Begin("read "+snap.Name, snap.Size)
	o := &storedObject{raw: newCheckedReader(progressReader{readerWithContext(ctx, r), s.progress})}
	o.plain = o.raw
	o.close = func() error { s.progress.End(); return r.Close() }
	if snap.Encrypted {
		plain, err := age.Decrypt(o.raw, ids...)
		if err != nil {
			o.close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err := s.identityMismatch(snap, err); errors.As(err, new(*IdentityError)) {
				return nil, err
			}
			return nil, &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("age header: %v", err)}
		}
		o.plain = plain
	}
	return o, nil
}

// decompressor decodes the plain (decrypted) bytes of a data object into the archive. Closing
// it releases the decoder; it does not close r.
func decompressor(r io.Reader, compression string) (io.ReadCloser, error) {
	switch compression {
	case CompressionPGDump, CompressionNone:
		return io.NopCloser(r), nil
	case CompressionZstd:
		dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)))
		if err != nil {
			return nil, fmt.Errorf("zstd decoder: %w", err)
		}
		return dec.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("unknown compression %q", compression)
}

// openArchive opens a snapshot's data object and decodes it, without checking it against the
// manifest (verifyQuick and decodeVerified do).
func (s *Scheduler) openArchive(ctx context.Context, snap Snapshot) (io.ReadCloser, error) {
	o, err := s.openStored(ctx, snap)
	if err != nil {
		return nil, err
	}
	a, err := decompressor(o.plain, snap.Compression)
	if err != nil {
		o.close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{a, closers{a, closerFunc(o.close)}}, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// decodeVerified writes the snapshot's decoded archive to w, checking the stored bytes' size and
// SHA-256 against the manifest in the same pass. A decode failure or a mismatch is a
// *CorruptError (a mismatch wins: it is the cause); a failure to write to w is returned as it is.
func (s *Scheduler) decodeVerified(ctx context.Context, snap Snapshot, w io.Writer) error {
	return s.readChecked(ctx, snap, w, true)
}

// verifyData reads the snapshot's data object into w (decrypted when encrypted, never
// decompressed) and checks its size and SHA-256 against the manifest.
func (s *Scheduler) verifyData(ctx context.Context, snap Snapshot, w io.Writer) error {
	return s.readChecked(ctx, snap, w, false)
}

// readChecked copies the data object, decrypted and, with decompress, decoded, to w, and
// compares the stored bytes with the manifest once all have passed.
func (s *Scheduler) readChecked(ctx context.Context, snap Snapshot, w io.Writer, decompress bool) error {
	o, err := s.openStored(ctx, snap)
	if err != nil {
		return err
	}
	defer o.close()
	src, step := o.plain, "decrypt"
	if decompress {
		a, err := decompressor(o.plain, snap.Compression)
		if err != nil {
			return err
		}
		defer a.Close()
		src, step = a, "decode "+describeEncoding(snap)
	}
	_, err = io.Copy(writeTagger{w}, src)
	if we, ok := errors.AsType[*writeError](err); ok {
		return we.err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if verr := o.raw.verify(snap); verr != nil {
		return verr
	}
	if err != nil {
		return &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("%s: %v", step, err)}
	}
	return nil
}

func describeEncoding(snap Snapshot) string {
	if snap.Encrypted {
		return snap.Encryption + "+" + snap.Compression
	}
	return snap.Compression
}

// archiveFile returns a file holding the snapshot's decoded archive, for pg_restore, which
// needs a file to restore in parallel, and a func that removes it when it is a temporary copy.
// The stored bytes are checked against the manifest on the way. A copy is private (0600) and
// made in dir (the OS temp dir when empty) after checking it has room.
func (s *Scheduler) archiveFile(ctx context.Context, snap Snapshot, dir string) (path string, cleanup func(), err error) {
	noop := func() {}
	if (snap.Compression == CompressionPGDump || snap.Compression == CompressionNone) && !snap.Encrypted {
		// The stored object is the archive: a local store hands out its own file.
		if fp, ok := s.storeOf(snap).st.(filePather); ok {
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
