package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pgsnap/pgsnap/store"
)

// abortTimeout bounds aborting an upload after the writer's context has ended, so that a
// shutdown is not held up by an unreachable endpoint; Sweep removes what it leaves.
const abortTimeout = 5 * time.Second

// growEvery is how many parts share one part size before it doubles.
const growEvery = 1000

// PartSize returns the size of part n (counted from 1) of an upload whose first part size is
// base: base for parts 1-1000, twice base for 1001-2000, and so on, never above MaxPartSize.
// Doubling keeps the parts of any object within MaxParts while small objects use small parts;
// MaxObjectSize gives the resulting limit. A writer's memory is at most two parts.
func PartSize(base int64, n int) int64 {
	size := base
	for k := (n - 1) / growEvery; k > 0 && size < MaxPartSize; k-- {
		size *= 2
	}
	return min(size, MaxPartSize)
}

// MaxObjectSize returns the largest object that MaxParts parts sized by PartSize(base, n) hold:
// about 13.9 TB (12.7 TiB) for DefaultPartSize and 5.36 TB (4.9 TiB) for MinPartSize.
func MaxObjectSize(base int64) int64 {
	var total int64
	for n := 1; n <= MaxParts; n += growEvery {
		total += growEvery * PartSize(base, n)
	}
	return total
}

// writer states
const (
	open = iota
	committed
	ended // aborted, or failed and cleaned up
)

// Writer streams one object to S3. Bytes collect in a part buffer; each full part is uploaded in
// the background while the next fills, so at most two parts are in memory and one request is in
// flight. The multipart upload starts with the first full part; an object smaller than one part
// is sent by Commit in a single PutObject. Parts upload under the context given to Create:
// cancelling it fails the next Write or Commit, which aborts the upload.
type Writer struct {
	s        *Store
	key, obj string
	ctx      context.Context // Create's context, cancelled when the writer ends
	cancel   context.CancelFunc

	buf, spare []byte // the part being filled; a drained part buffer to reuse
	size       int64
	state      int
	err        error // first failure; once set the upload is aborted

	uploadID string
	cut      int                  // parts handed to an upload so far
	parts    []minio.CompletePart // parts uploaded, in order
	pending  chan partResult      // the part upload in flight, if any

	full      hash.Hash // SHA-256 of all bytes; written by the part upload in flight, else by Commit
	composite hash.Hash // SHA-256 of the part digests, in order
	etag      hash.Hash // MD5 of the part MD5s: the usual multipart ETag

	checksum string // after Commit: what the server should report, see Checksum
	sum      []byte // after Commit: SHA-256 of all bytes
}

type partResult struct {
	part minio.CompletePart
	sha  [sha256.Size]byte
	md5  [md5.Size]byte
	buf  []byte
	err  error
}

// Create starts writing key. It returns an error wrapping store.ErrExists if key is committed.
// Nothing is sent until the first part fills or Commit.
func (s *Store) Create(ctx context.Context, key string) (store.Writer, error) {
	obj, err := s.start(ctx, "create", key)
	if err != nil {
		return nil, err
	}
	found, err := s.exists(ctx, "create", key)
	if err != nil {
		return nil, err
	}
	if found {
		return nil, fmt.Errorf("create %s: %w", s.where(key), store.ErrExists)
	}
	wctx, cancel := context.WithCancel(ctx)
	return &Writer{
		s: s, key: key, obj: obj, ctx: wctx, cancel: cancel,
		full: sha256.New(), composite: sha256.New(), etag: md5.New(),
	}, nil
}

// Write buffers p, uploading each part as it fills. After an error the writer is ended and its
// upload aborted; Commit returns the same error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.state != open {
		return 0, fmt.Errorf("write %s: writer already ended", w.s.where(w.key))
	}
	if err := w.ctx.Err(); err != nil {
		err = fmt.Errorf("write %s: %w", w.s.where(w.key), err)
		w.fail(err)
		return 0, err
	}
	written := 0
	for len(p) > 0 {
		limit := int(PartSize(w.s.cfg.PartSize, w.cut+1))
		n := min(limit-len(w.buf), len(p))
		w.reserve(n, limit)
		w.buf = append(w.buf, p[:n]...)
		p = p[n:]
		written += n
		w.size += int64(n)
		if len(w.buf) == limit {
			if err := w.cutPart(); err != nil {
				w.fail(err)
				return written, err
			}
		}
	}
	return written, nil
}

// reserve makes room for n more bytes in buf without ever exceeding limit, so the buffer of a
// small object stays small and that of a large one is allocated once at the part size.
func (w *Writer) reserve(n, limit int) {
	need := len(w.buf) + n
	if need <= cap(w.buf) {
		return
	}
	if cap(w.spare) >= limit && len(w.buf) == 0 {
		w.buf, w.spare = w.spare[:0], nil
		return
	}
	size := min(limit, max(need, 2*cap(w.buf), 64<<10))
	if w.cut > 0 {
		size = limit // a multipart upload is under way: this part will fill
	}
	grown := make([]byte, len(w.buf), size)
	copy(grown, w.buf)
	w.buf = grown
}

// cutPart hands the filled buffer to a background upload once the previous part is done,
// starting the multipart upload first if needed.
func (w *Writer) cutPart() error {
	if err := w.wait(); err != nil {
		return err
	}
	if w.uploadID == "" {
		if err := w.initiate(); err != nil {
			return err
		}
	}
	if w.cut == MaxParts {
		return fmt.Errorf("write %s: object exceeds %d bytes, the most %d parts starting at %d bytes hold",
			w.s.where(w.key), MaxObjectSize(w.s.cfg.PartSize), MaxParts, w.s.cfg.PartSize)
	}
	w.cut++
	n, data := w.cut, w.buf
	w.buf = nil
	ch := make(chan partResult, 1)
	w.pending = ch
	go func() { ch <- w.uploadPart(n, data) }()
	return nil
}

// wait collects the part upload in flight, if any.
func (w *Writer) wait() error {
	if w.pending == nil {
		return nil
	}
	r := <-w.pending
	w.pending = nil
	if r.err != nil {
		return r.err
	}
	w.parts = append(w.parts, r.part)
	w.composite.Write(r.sha[:])
	w.etag.Write(r.md5[:])
	w.spare = r.buf
	return nil
}

// initiate starts the multipart upload, declaring SHA-256 part checksums.
func (w *Writer) initiate() error {
	opts := w.s.putOptions()
	if !w.s.cfg.DisableChecksums {
		opts.UserMetadata = map[string]string{"x-amz-checksum-algorithm": "SHA256"}
	}
	err := w.s.retry(w.ctx, "start upload", w.key, func(ctx context.Context) error {
		id, err := w.s.core.NewMultipartUpload(ctx, w.s.cfg.Bucket, w.obj, opts)
		w.uploadID = id
		return err
	})
	if err != nil {
		w.uploadID = ""
		return w.s.wrap("start upload", w.key, err)
	}
	w.s.live.add(w.uploadID, w.obj)
	return nil
}

// uploadPart sends part n. It runs on its own goroutine, one at a time and in part order, so it
// may feed the whole-object hash.
func (w *Writer) uploadPart(n int, data []byte) partResult {
	r := partResult{sha: sha256.Sum256(data), md5: md5.Sum(data), buf: data}
	w.full.Write(data)
	opts := minio.PutObjectPartOptions{
		Md5Base64:            base64.StdEncoding.EncodeToString(r.md5[:]),
		Sha256Hex:            hex.EncodeToString(r.sha[:]),
		DisableContentSha256: true, // sign the payload hash above instead of streaming chunks
	}
	want := ""
	if !w.s.cfg.DisableChecksums {
		want = base64.StdEncoding.EncodeToString(r.sha[:])
		opts.CustomHeader = http.Header{"X-Amz-Checksum-Sha256": {want}}
	}
	op := fmt.Sprintf("upload part %d of", n)
	var part minio.ObjectPart
	err := w.s.retry(w.ctx, op, w.key, func(ctx context.Context) error {
		var err error
		part, err = w.s.core.PutObjectPart(ctx, w.s.cfg.Bucket, w.obj, w.uploadID, n,
			bytes.NewReader(data), int64(len(data)), opts)
		return err
	})
	if err != nil {
		r.err = w.s.wrap(op, w.key, err)
		return r
	}
	if want != "" && part.ChecksumSHA256 != "" && part.ChecksumSHA256 != want {
		r.err = fmt.Errorf("%s %s: server recorded checksum %s, sent %s", op, w.s.where(w.key), part.ChecksumSHA256, want)
		return r
	}
	r.part = minio.CompletePart{PartNumber: n, ETag: part.ETag}
	if want != "" {
		r.part.ChecksumSHA256 = want
	}
	return r
}

// putOptions are the options every object upload carries.
func (s *Store) putOptions() minio.PutObjectOptions {
	return minio.PutObjectOptions{
		ContentType:          "application/octet-stream",
		StorageClass:         s.cfg.StorageClass,
		ServerSideEncryption: s.sse,
		DisableContentSha256: true,
	}
}

// Abort discards the object: it stops the part upload in flight and aborts the multipart upload.
// It is a no-op once the writer has ended (committed, aborted or failed).
func (w *Writer) Abort() error {
	if w.state != open {
		return nil
	}
	w.state = ended
	return w.abortUpload()
}

// fail ends the writer after err, aborting its upload.
func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	if w.state == open {
		w.state = ended
		_ = w.abortUpload()
	}
}

// abortUpload ends the part upload in flight and aborts the multipart upload, if one started.
// It runs even when the writer's context has ended, with its own short deadline.
func (w *Writer) abortUpload() error {
	w.cancel()
	if w.pending != nil {
		<-w.pending
		w.pending = nil
	}
	w.buf, w.spare = nil, nil
	if w.uploadID == "" {
		return nil
	}
	id := w.uploadID
	defer w.s.live.remove(id)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), abortTimeout)
	defer cancel()
	err := w.s.retry(ctx, "abort upload", w.key, func(ctx context.Context) error {
		return w.s.core.AbortMultipartUpload(ctx, w.s.cfg.Bucket, w.obj, id)
	})
	if er, ok := errorResponse(err); ok && er.Code == "NoSuchUpload" {
		return nil
	}
	if err != nil {
		err = w.s.wrap("abort upload", w.key, err)
		w.s.log.Warn("s3 abort failed; Sweep removes the upload once stale", "object", w.s.where(w.key),
			"upload_id", id, "stale_after", w.s.cfg.StaleUploadAge, "error", err)
		return err
	}
	return nil
}
