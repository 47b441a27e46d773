package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/pgsnap/pgsnap/store"
)

// Commit makes the object visible: it uploads the last part and completes the multipart upload,
// or sends a small object in one PutObject. Both requests carry If-None-Match: *, so the server
// refuses to replace an object committed meanwhile (store.ErrExists). Where Check found that the
// endpoint ignores If-None-Match, a Stat just before is the only guard, and two writers racing
// within that instant could both succeed; the log says so at Check. On any error the upload is
// aborted and nothing is visible under the key.
//
// A retried request whose first try may have succeeded unheard is resolved by comparing the
// stored object's checksum (or ETag) with this writer's: a match means the object is this
// writer's bytes and Commit succeeds.
func (w *Writer) Commit(ctx context.Context) (err error) {
	switch {
	case w.err != nil:
		return w.err
	case w.state == committed:
		return fmt.Errorf("commit %s: already committed", w.s.where(w.key))
	case w.state != open:
		return fmt.Errorf("commit %s: writer already ended", w.s.where(w.key))
	}
	defer func() {
		if err != nil {
			w.fail(err)
		}
	}()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit %s: %w", w.s.where(w.key), err)
	}
	// The last part uploads under the writer's context; cancelling Commit's must stop it too.
	stop := context.AfterFunc(ctx, w.cancel)
	defer stop()
	if w.uploadID == "" {
		err = w.putWhole(ctx)
	} else {
		err = w.complete(ctx)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("commit %s: %w (%v)", w.s.where(w.key), cerr, err)
		}
		return err
	}
	w.state = committed
	w.cancel()
	w.buf, w.spare = nil, nil
	w.sum = w.full.Sum(nil)
	if w.uploadID != "" {
		w.s.live.remove(w.uploadID)
	}
	return nil
}

// putWhole sends an object smaller than one part in a single conditional PutObject.
func (w *Writer) putWhole(ctx context.Context) error {
	sha, sum := sha256.Sum256(w.buf), md5.Sum(w.buf)
	w.full.Write(w.buf)
	opts := w.s.putOptions()
	if !w.s.cfg.DisableChecksums {
		w.checksum = base64.StdEncoding.EncodeToString(sha[:])
		opts.UserMetadata = map[string]string{"x-amz-checksum-sha256": w.checksum}
	}
	data := w.buf
	return w.publish(ctx, hex.EncodeToString(sum[:]), opts,
		func(ctx context.Context, opts minio.PutObjectOptions) (string, error) {
			ui, err := w.s.core.PutObject(ctx, w.s.cfg.Bucket, w.obj, bytes.NewReader(data), int64(len(data)),
				base64.StdEncoding.EncodeToString(sum[:]), hex.EncodeToString(sha[:]), opts)
			return ui.ChecksumSHA256, err
		})
}

// complete uploads the last part, if any bytes wait, and completes the multipart upload.
func (w *Writer) complete(ctx context.Context) error {
	if len(w.buf) > 0 {
		if err := w.cutPart(); err != nil {
			return err
		}
	}
	if err := w.wait(); err != nil {
		return err
	}
	n := len(w.parts)
	if !w.s.cfg.DisableChecksums {
		w.checksum = fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(w.composite.Sum(nil)), n)
	}
	etag := fmt.Sprintf("%s-%d", hex.EncodeToString(w.etag.Sum(nil)), n)
	return w.publish(ctx, etag, minio.PutObjectOptions{},
		func(ctx context.Context, opts minio.PutObjectOptions) (string, error) {
			ui, err := w.s.core.CompleteMultipartUpload(ctx, w.s.cfg.Bucket, w.obj, w.uploadID, w.parts, opts)
			return ui.ChecksumSHA256, err
		})
}

// publish sends the request that makes the object visible, with If-None-Match: * unless the
// endpoint is known to ignore it, after checking that the key is free unless the endpoint is
// known to enforce it. An endpoint answering 501 to the header is remembered as ignoring it and
// the request is sent again without. send returns the checksum the server reports, if any.
func (w *Writer) publish(ctx context.Context, etag string, opts minio.PutObjectOptions,
	send func(context.Context, minio.PutObjectOptions) (string, error),
) error {
	cond := w.s.conditional.Load()
	conditional := opts // a copy: the header must not stick to the caller's options
	if cond != condIgnored {
		conditional.SetMatchETagExcept("*")
	}
	if cond != condHonoured {
		found, err := w.s.exists(ctx, "commit", w.key)
		if err != nil {
			return err
		}
		if found {
			return fmt.Errorf("commit %s: %w", w.s.where(w.key), store.ErrExists)
		}
	}
	err := w.commitRequest(ctx, etag, func(ctx context.Context) (string, error) { return send(ctx, conditional) })
	if er, ok := errorResponse(err); ok && cond != condIgnored && er.StatusCode == http.StatusNotImplemented {
		w.s.conditional.Store(condIgnored)
		w.s.log.Warn("s3 endpoint does not implement If-None-Match on commit: commits check for an existing "+
			"object just before", "store", w.s.String())
		return w.publish(ctx, etag, opts, send)
	}
	return err
}

// commitRequest runs the request that publishes the object, with retries, and maps its outcome.
// send returns the checksum the server reports for the new object, if any.
func (w *Writer) commitRequest(ctx context.Context, etag string, send func(context.Context) (string, error)) error {
	uncertain := false // a failed try may have taken effect anyway
	var got string
	err := w.s.retry(ctx, "commit", w.key, func(ctx context.Context) error {
		var err error
		got, err = send(ctx)
		if err != nil && transient(err) {
			uncertain = true
		}
		return err
	})
	if err != nil {
		er, _ := errorResponse(err)
		if uncertain && (er.Code == "NoSuchUpload" || er.StatusCode == http.StatusPreconditionFailed) {
			if mine, merr := w.isMine(ctx, etag); merr == nil && mine {
				return nil
			}
		}
		switch {
		case er.StatusCode == http.StatusPreconditionFailed:
			return fmt.Errorf("commit %s: %w", w.s.where(w.key), store.ErrExists)
		case er.StatusCode == http.StatusConflict:
			// AWS answers 409 to a conditional write racing another: whoever is first wins.
			if found, ferr := w.s.exists(ctx, "commit", w.key); ferr == nil && found {
				return fmt.Errorf("commit %s: %w", w.s.where(w.key), store.ErrExists)
			}
		}
		return w.s.wrap("commit", w.key, err)
	}
	if w.checksum != "" && got != "" && got != w.checksum {
		// The server assembled bytes other than ours. Nothing may stay visible after a failed
		// Commit, and the object is ours to take back since no other writer could replace it.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		derr := w.s.retry(dctx, "delete", w.key, func(ctx context.Context) error {
			return w.s.core.RemoveObject(ctx, w.s.cfg.Bucket, w.obj, minio.RemoveObjectOptions{})
		})
		return fmt.Errorf("commit %s: server reports checksum %s, want %s (object deleted: %v)",
			w.s.where(w.key), got, w.checksum, derr == nil)
	}
	return nil
}

// isMine reports whether the object now under the key holds this writer's bytes, judged by the
// server's SHA-256 checksum when both sides have one, else by the ETag (an MD5 form that SSE-KMS
// and some servers do not keep, in which case the answer is no).
func (w *Writer) isMine(ctx context.Context, etag string) (bool, error) {
	oi, err := w.s.head(ctx, "commit", w.key, w.obj)
	if err != nil {
		return false, err
	}
	if oi.Size != w.size {
		return false, nil
	}
	if w.checksum != "" && oi.ChecksumSHA256 != "" {
		return oi.ChecksumSHA256 == w.checksum, nil
	}
	return oi.ETag == etag, nil
}

// ErrNoChecksum reports that the server keeps no SHA-256 checksum for an object: it was written
// with Config.DisableChecksums, by another client, or the server does not support checksums.
// The caller must then download the object to check it.
var ErrNoChecksum = errors.New("no SHA-256 checksum kept by the server")

// Checksum returns, after a successful Commit, the x-amz-checksum-sha256 value the server should
// report for the object: for an object sent in one request, the base64 SHA-256 of its bytes; for
// a multipart upload, the base64 SHA-256 of the concatenated binary SHA-256 digests of its parts,
// then "-" and the number of parts (S3's composite checksum). It is "" before Commit or with
// Config.DisableChecksums. A manifest may record it so that later checks need no download.
func (w *Writer) Checksum() string {
	if w.state != committed {
		return ""
	}
	return w.checksum
}

// SHA256 returns, after a successful Commit, the SHA-256 of every byte written, computed as the
// bytes were cut into parts; nil before.
func (w *Writer) SHA256() []byte {
	if w.state != committed {
		return nil
	}
	return bytes.Clone(w.sum)
}

// Verify confirms, after a successful Commit and without downloading, that the committed object
// holds the bytes whose SHA-256 the caller computed (sha256, as the manifest records it). It
// checks that
//
//   - sha256 equals the SHA-256 of the bytes this writer cut into parts, so the caller's hash
//     covers exactly what was sent, and
//   - the object's size and the checksum the server reports (HEAD with checksum mode) equal this
//     writer's: the server computed the SHA-256 of every part as it received it (it rejects a part
//     whose x-amz-checksum-sha256 does not match) and derived the object's checksum from those, so
//     a match means the server stored these parts, whole and in order.
//
// It cannot prove that the stored bytes are still intact on the server's disks, nor guard against
// a server that reports checksums it did not compute; a full read (verify --full, a restore drill)
// does. It returns an error wrapping ErrNoChecksum when the server reports no checksum.
func (w *Writer) Verify(ctx context.Context, sha256 []byte) error {
	where := w.s.where(w.key)
	if w.state != committed {
		return fmt.Errorf("verify %s: not committed", where)
	}
	if !bytes.Equal(sha256, w.sum) {
		return fmt.Errorf("verify %s: caller's SHA-256 %x differs from the %x of the %d bytes uploaded",
			where, sha256, w.sum, w.size)
	}
	if w.checksum == "" {
		return fmt.Errorf("verify %s: checksums disabled: %w", where, ErrNoChecksum)
	}
	oi, err := w.s.head(ctx, "verify", w.key, w.obj)
	if err != nil {
		return err
	}
	switch {
	case oi.Size != w.size:
		return fmt.Errorf("verify %s: server reports %d bytes, uploaded %d", where, oi.Size, w.size)
	case oi.ChecksumSHA256 == "":
		return fmt.Errorf("verify %s: %w", where, ErrNoChecksum)
	case oi.ChecksumSHA256 != w.checksum:
		return fmt.Errorf("verify %s: server reports checksum %s, uploaded parts give %s", where, oi.ChecksumSHA256, w.checksum)
	}
	return nil
}

// Checksum returns the x-amz-checksum-sha256 value the server reports for a committed object (see
// Writer.Checksum for its form), or an error wrapping ErrNoChecksum when it reports none.
// Comparing it with the value recorded at upload detects a replaced object without a download.
func (s *Store) Checksum(ctx context.Context, key string) (string, error) {
	obj, err := s.start(ctx, "checksum", key)
	if err != nil {
		return "", err
	}
	if s.cfg.DisableChecksums {
		return "", fmt.Errorf("checksum %s: checksums disabled: %w", s.where(key), ErrNoChecksum)
	}
	oi, err := s.head(ctx, "checksum", key, obj)
	if err != nil {
		return "", err
	}
	if oi.ChecksumSHA256 == "" {
		return "", fmt.Errorf("checksum %s: %w", s.where(key), ErrNoChecksum)
	}
	return oi.ChecksumSHA256, nil
}
