package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pgsnap/pgsnap/store"
)

// probePrefix starts the names of Check's probe objects. The leading '.' makes them invalid
// keys, so List never shows one and no key can collide with one.
const probePrefix = ".pgsnap-probe-"

// reachBudget bounds how long Check keeps trying an endpoint that does not answer at all: a
// start-up check reports an unreachable endpoint within seconds instead of spending the whole
// retry budget meant for outages in the middle of an upload.
const reachBudget = 8 * time.Second

// Check verifies that the bucket exists and that the credentials may write and delete under the
// prefix: it writes a probe object, writes it again with If-None-Match: * to learn whether the
// endpoint enforces that header (Commit relies on it), and deletes it. Buckets are never
// created. An endpoint that does not answer fails the check after about reachBudget. Errors
// name the location, the endpoint and, for a missing bucket, URLSetting, never a secret; the
// caller names the setting the store came from.
func (s *Store) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("check %s: %w", s.where(""), err)
	}
	return s.check(ctx)
}

func (s *Store) check(ctx context.Context) error {
	found, err := s.bucketExists(ctx)
	if err != nil {
		return s.wrap("check bucket", "", err)
	}
	if !found {
		return fmt.Errorf("check bucket %s: bucket %q does not exist (check %s)", s.where(""), s.cfg.Bucket, URLSetting)
	}
	rnd := make([]byte, 8)
	_, _ = rand.Read(rnd)
	name := probePrefix + hex.EncodeToString(rnd)
	obj := s.listPrefix() + name
	data := []byte("pgsnap write probe\n")
	put := func(ctx context.Context, opts minio.PutObjectOptions) error {
		_, err := s.core.PutObject(ctx, s.cfg.Bucket, obj, bytes.NewReader(data), int64(len(data)), "", "", opts)
		return err
	}
	opts := s.putOptions()
	if err := s.retry(ctx, "probe write", name, func(ctx context.Context) error { return put(ctx, opts) }); err != nil {
		return s.wrap("probe write", name, err)
	}
	opts.SetMatchETagExcept("*")
	err = s.retry(ctx, "probe conditional write", name, func(ctx context.Context) error { return put(ctx, opts) })
	er, _ := errorResponse(err)
	switch {
	case err == nil:
		s.conditional.Store(condIgnored)
		s.log.Warn("s3 endpoint ignores If-None-Match: commits check for an existing object just before, "+
			"and two writers of one key could both succeed within that instant", "store", s.String())
	case er.StatusCode == http.StatusPreconditionFailed:
		s.conditional.Store(condHonoured)
	case er.StatusCode == http.StatusNotImplemented:
		s.conditional.Store(condIgnored)
		s.log.Warn("s3 endpoint does not implement If-None-Match: commits check for an existing object just before",
			"store", s.String())
	default:
		s.deleteProbe(obj)
		return s.wrap("probe conditional write", name, err)
	}
	err = s.retry(ctx, "probe delete", name, func(ctx context.Context) error {
		return s.core.RemoveObject(ctx, s.cfg.Bucket, obj, minio.RemoveObjectOptions{})
	})
	return s.wrap("probe delete", name, err)
}

// bucketExists asks whether the bucket exists, retrying transient failures for at most
// reachBudget. When the budget ends first, the error is the last try's (an unreachable
// endpoint), noting the time spent; the caller's own cancellation is returned as it is.
func (s *Store) bucketExists(ctx context.Context) (bool, error) {
	bctx, cancel := context.WithTimeout(ctx, reachBudget)
	defer cancel()
	var found bool
	var last error
	tries := 0
	err := s.retry(bctx, "check bucket", "", func(rctx context.Context) error {
		var err error
		tries++
		found, err = s.core.BucketExists(rctx, s.cfg.Bucket)
		if err != nil && rctx.Err() == nil {
			last = err
		}
		return err
	})
	if err != nil && ctx.Err() == nil && bctx.Err() != nil {
		if last == nil {
			return false, noAnswer{tries} // every try hung until the budget ended
		}
		return false, fmt.Errorf("%w (gave up after %s, %s)", last, reachBudget, triesText(tries))
	}
	return found, err
}

// noAnswer is an endpoint that accepted no request within reachBudget. It is a net.Error, so
// wrap reports the endpoint unreachable.
type noAnswer struct{ tries int }

func (e noAnswer) Error() string {
	return fmt.Sprintf("no answer within %s (%s)", reachBudget, triesText(e.tries))
}

func triesText(n int) string {
	if n == 1 {
		return "1 try"
	}
	return fmt.Sprintf("%d tries", n)
}
func (noAnswer) Timeout() bool   { return true }
func (noAnswer) Temporary() bool { return true }

// deleteProbe removes the probe after a failed check, best effort.
func (s *Store) deleteProbe(obj string) {
	ctx, cancel := context.WithTimeout(context.Background(), abortTimeout)
	defer cancel()
	_ = s.core.RemoveObject(ctx, s.cfg.Bucket, obj, minio.RemoveObjectOptions{})
}

// Sweep aborts incomplete multipart uploads directly under the prefix, for valid keys, that were
// started more than Config.StaleUploadAge ago (by the server's clock, compared with this host's),
// or whose key is already committed (no writer can commit it any more), and returns their keys,
// one per upload aborted. S3 cannot tell a live writer in another process
// from a crashed one, so age is the only proof that a writer ended: StaleUploadAge must exceed
// the longest allowed run. Uploads of this Store's own live writers are never aborted whatever
// their age. An error on one upload does not stop the others. A bucket lifecycle rule
// (AbortIncompleteMultipartUpload) is a good second line.
func (s *Store) Sweep(ctx context.Context) ([]string, error) {
	return s.sweep(ctx, nil)
}

// SweepKeys aborts the incomplete multipart uploads of the keys match accepts, whatever their
// age: the caller proves their writers ended (pgsnap holds the target's writer lock). Uploads
// of this Store's own live writers are never aborted.
func (s *Store) SweepKeys(ctx context.Context, match func(key string) bool) ([]string, error) {
	return s.sweep(ctx, match)
}

// sweep aborts stale uploads, or with match every upload of a key it accepts.
func (s *Store) sweep(ctx context.Context, match func(key string) bool) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", s.where(""), err)
	}
	cutoff := time.Now().Add(-s.cfg.StaleUploadAge)
	var removed []string
	var errs []error
	keyMarker, idMarker := "", ""
	for {
		var res minio.ListMultipartUploadsResult
		err := s.retry(ctx, "sweep", "", func(ctx context.Context) error {
			var err error
			res, err = s.core.ListMultipartUploads(ctx, s.cfg.Bucket, s.listPrefix(), keyMarker, idMarker, "/", 1000)
			return err
		})
		if err != nil {
			return removed, errors.Join(append(errs, s.wrap("sweep", "", err))...)
		}
		for _, u := range res.Uploads {
			key, ok := strings.CutPrefix(u.Key, s.listPrefix())
			if !ok || store.ValidKey(key) != nil || s.live.has(u.UploadID) || match != nil && !match(key) {
				continue
			}
			if match == nil && !u.Initiated.Before(cutoff) {
				// A young upload may be live, unless its key is committed already: then its
				// writer could never commit it (commits never replace), so it is dead weight,
				// such as an upload whose abort failed while the endpoint was down.
				if committed, err := s.exists(ctx, "sweep", key); err != nil || !committed {
					continue
				}
			}
			if err := ctx.Err(); err != nil {
				return removed, errors.Join(append(errs, fmt.Errorf("sweep %s: %w", s.where(""), err))...)
			}
			err := s.retry(ctx, "sweep", key, func(ctx context.Context) error {
				return s.core.AbortMultipartUpload(ctx, s.cfg.Bucket, u.Key, u.UploadID)
			})
			if er, ok := errorResponse(err); ok && er.Code == "NoSuchUpload" {
				continue // completed or aborted since the listing
			}
			if err != nil {
				errs = append(errs, s.wrap("sweep upload "+u.UploadID+" of", key, err))
				continue
			}
			s.log.Info("s3 stale upload aborted", "object", s.where(key), "upload_id", u.UploadID,
				"initiated", u.Initiated, "stale_after", s.cfg.StaleUploadAge)
			removed = append(removed, key)
		}
		if !res.IsTruncated {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	return removed, errors.Join(errs...)
}
