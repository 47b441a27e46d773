// Package codec turns a pg_dump archive into the bytes pgsnap stores and back: zstd in
// independent frames (internal/zstdpar), then age encryption, and the checks on the way back
// (frames whole, size and SHA-256 of the stored bytes). It knows nothing of snapshots or stores.
package codec

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"strconv"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/pgsnap/pgsnap/internal/zstdpar"
)

// Compressions a manifest records.
const (
	// Zstd is the archive compressed by pgsnap with zstd, in independent frames; pg_dump wrote
	// it uncompressed (-Z0), so its data blocks are plain COPY text.
	Zstd = "zstd"
	// None stores the archive as pg_dump wrote it with -Z0: uncompressed.
	None = "none"
	// PGDump means the archive's data is compressed by pg_dump itself (the first snapshot
	// format) and pgsnap adds no outer compression: the stored bytes are the archive.
	PGDump = "pg_dump"
)

// Age is the encryption a manifest records for objects encrypted with age
// (https://age-encryption.org) to the public keys in its recipients field.
const Age = "age"

// Spec is how the next snapshot's bytes are stored.
type Spec struct {
	Kind       string            // Zstd or None
	Level      zstd.EncoderLevel // for Zstd
	Threads    int               // compressing goroutines; 0 means one per CPU
	ChunkSize  int               // archive bytes per zstd frame; 0 means zstdpar's default
	Recipients []age.Recipient   // encrypt to these when not empty
}

// Encrypted reports whether the spec encrypts.
func (s Spec) Encrypted() bool { return len(s.Recipients) > 0 }

// LevelName is the zstd level as manifests record it ("" without compression).
func (s Spec) LevelName() string {
	if s.Kind != Zstd {
		return ""
	}
	return s.Level.String()
}

// Chunk is the archive bytes in each frame.
func (s Spec) Chunk() int {
	if s.ChunkSize > 0 {
		return s.ChunkSize
	}
	return zstdpar.DefaultChunkSize
}

// ParseCompression reads SNAPSHOT_COMPRESSION. zstd:N maps zstd's levels onto the four the
// encoder implements (1-2 fastest, 3-5 default, 6-9 better, 10-19 best).
func ParseCompression(v string) (Spec, error) {
	switch v {
	case "", "zstd", "fastest":
		return Spec{Kind: Zstd, Level: zstd.SpeedFastest}, nil
	case "default":
		return Spec{Kind: Zstd, Level: zstd.SpeedDefault}, nil
	case "better":
		return Spec{Kind: Zstd, Level: zstd.SpeedBetterCompression}, nil
	case "best":
		return Spec{Kind: Zstd, Level: zstd.SpeedBestCompression}, nil
	case None:
		return Spec{Kind: None}, nil
	}
	n, ok := strings.CutPrefix(v, "zstd:")
	if !ok {
		return Spec{}, errors.New("unknown compression")
	}
	level, err := strconv.Atoi(n)
	if err != nil || level < 1 || level > 19 {
		return Spec{}, fmt.Errorf("zstd level %q is not a whole number from 1 to 19", n)
	}
	return Spec{Kind: Zstd, Level: zstd.EncoderLevelFromZstd(level)}, nil
}

// Encoder takes the archive and writes the stored bytes (compressed, then encrypted) to w.
// Compression runs on its own goroutines, so Write only hands the archive over. Close flushes
// every stage; Abort throws them away. One of the two must always be called, also after an
// error, to end those goroutines.
type Encoder struct {
	in     io.Writer
	zw     *zstdpar.Writer // nil without compression
	ageW   io.WriteCloser  // nil without encryption
	closed bool
}

// NewEncoder starts an encoder writing to w.
func NewEncoder(w io.Writer, s Spec) (*Encoder, error) {
	enc := &Encoder{in: w}
	if s.Encrypted() {
		aw, err := age.Encrypt(w, s.Recipients...)
		if err != nil {
			return nil, fmt.Errorf("age encryption: %w", err)
		}
		enc.ageW, enc.in = aw, aw
	}
	if s.Kind == Zstd {
		threads := s.Threads
		if threads == 0 {
			threads = runtime.GOMAXPROCS(0)
		}
		zw, err := zstdpar.NewWriter(enc.in, zstdpar.Options{Level: s.Level, ChunkSize: s.Chunk(), Threads: threads})
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		enc.zw, enc.in = zw, zw
	}
	return enc, nil
}

func (e *Encoder) Write(p []byte) (int, error) { return e.in.Write(p) }

// Close flushes the compressor, then ends the age stream (its last chunk is authenticated as
// the last: a truncated object does not decrypt).
func (e *Encoder) Close() error {
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
func (e *Encoder) Abort(err error) {
	if e.closed {
		return
	}
	e.closed = true
	if e.zw != nil {
		e.zw.Abort(err)
		e.zw.Close() // waits for its goroutines; the error is err
	}
}

// Decompress decodes the plain (decrypted) bytes of a stored object into the archive. Closing it
// releases the decoder; it does not close r.
func Decompress(r io.Reader, compression string) (io.ReadCloser, error) {
	switch compression {
	case PGDump, None:
		return io.NopCloser(r), nil
	case Zstd:
		dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)))
		if err != nil {
			return nil, fmt.Errorf("zstd decoder: %w", err)
		}
		return dec.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("unknown compression %q", compression)
}

// Decrypt returns the plain bytes of an age-encrypted stream.
func Decrypt(r io.Reader, ids []age.Identity) (io.Reader, error) { return age.Decrypt(r, ids...) }

// CheckedReader counts and hashes what is read through it.
type CheckedReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

// NewCheckedReader hashes r's bytes with SHA-256 as they are read.
func NewCheckedReader(r io.Reader) *CheckedReader { return &CheckedReader{r: r, h: sha256.New()} }

func (c *CheckedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// Finish reads what is left and returns the size and hex SHA-256 of everything read.
func (c *CheckedReader) Finish() (size int64, sha string, err error) {
	if _, err := io.Copy(io.Discard, c); err != nil {
		return c.n, "", err
	}
	return c.n, hex.EncodeToString(c.h.Sum(nil)), nil
}

// Mismatch compares what was read (after Finish) with the size and SHA-256 expected, and
// describes the difference, or returns "".
func Mismatch(gotSize int64, gotSHA string, size int64, sha string) string {
	if gotSize != size {
		return fmt.Sprintf("size %d, manifest says %d", gotSize, size)
	}
	if gotSHA != sha {
		return fmt.Sprintf("sha256 %s, manifest says %s", gotSHA, sha)
	}
	return ""
}

// CountingWriter counts the bytes written through it.
type CountingWriter struct {
	W io.Writer
	N int64
}

func (c *CountingWriter) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}
