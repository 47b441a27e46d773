package s3store

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pgsnap/pgsnap/store"
)

// retry runs fn until it succeeds, fails permanently, ctx ends or Config.MaxAttempts tries are
// spent, sleeping an exponentially growing, jittered delay between tries. fn must be safe to
// repeat: callers give it a fresh request body each time. The error of the last try is returned,
// noting the number of tries; when ctx ended, the error wraps ctx's.
func (s *Store) retry(ctx context.Context, op, key string, fn func(ctx context.Context) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			if err != nil {
				return fmt.Errorf("%w (after %d tries, last: %v)", cerr, attempt-1, err)
			}
			return cerr
		}
		err = fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !transient(err) {
			return err
		}
		if attempt >= s.cfg.MaxAttempts {
			return fmt.Errorf("%w (gave up after %d tries)", err, attempt)
		}
		d := s.backoff(attempt)
		s.log.Warn("s3 request failed, retrying", "op", op, "object", s.where(key),
			"attempt", attempt, "max_attempts", s.cfg.MaxAttempts, "delay", d, "error", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// backoff returns the delay after the attempt-th failed try: RetryBase doubled per try, capped
// at RetryMax, with the upper half jittered so that writers throttled together spread out.
func (s *Store) backoff(attempt int) time.Duration {
	d := s.cfg.RetryMax
	if shift := attempt - 1; shift < 30 && s.cfg.RetryBase<<shift < s.cfg.RetryMax {
		d = s.cfg.RetryBase << shift
	}
	half := d / 2
	return half + rand.N(half+1)
}

// retryableCodes are S3 error codes worth another try. BadDigest and the digest mismatches mean
// the body was damaged on the way: a fresh send of the same bytes can succeed.
var retryableCodes = map[string]bool{
	"RequestTimeout": true, "RequestError": true, "Throttling": true, "ThrottlingException": true,
	"RequestLimitExceeded": true, "RequestThrottled": true, "InternalError": true,
	"ServiceUnavailable": true, "SlowDown": true, "SlowDownWrite": true, "SlowDownRead": true,
	"TooManyRequests": true, "ExpiredToken": true, "ExpiredTokenException": true,
	"BadDigest": true, "XAmzContentSHA256Mismatch": true, "IncompleteBody": true,
}

// transient reports whether err may go away on its own: a throttling or server error answer, or
// a failure of the connection. Refusals, missing objects and TLS trust failures are permanent.
func transient(err error) bool {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, 499, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, 520:
			return true
		}
		return retryableCodes[er.Code]
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid):
		return false
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return false
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE)
}

// apiError is an S3 error answer described with its status and code, still matching
// minio.ErrorResponse with errors.As.
type apiError struct{ resp minio.ErrorResponse }

func (e apiError) Error() string {
	msg := fmt.Sprintf("HTTP %d", e.resp.StatusCode)
	if e.resp.Code != "" {
		msg += " " + e.resp.Code
	}
	return msg + ": " + e.resp.Error()
}

func (e apiError) Unwrap() error { return e.resp }

// errorResponse returns the S3 error answer in err, if any.
func errorResponse(err error) (minio.ErrorResponse, bool) {
	var er minio.ErrorResponse
	ok := errors.As(err, &er)
	return er, ok
}

// wrap gives err the operation and object, and turns S3 answers into messages a person can act
// on: a missing key wraps store.ErrNotFound; a missing bucket and a refusal name the setting,
// the endpoint and the access key id (never the secret). wrap(op, key, nil) is nil.
func (s *Store) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	where := s.where(key)
	endpoint := "" // where names a custom endpoint already
	if !s.custom {
		endpoint = " at " + s.endpoint
	}
	er, ok := errorResponse(err)
	if !ok {
		if transient(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s %s: endpoint%s unreachable: %w", op, where, endpoint, err)
		}
		return fmt.Errorf("%s %s: %w", op, where, err)
	}
	// Keep the "(gave up after n tries)" note that retry may have added around the answer.
	detail := strings.Replace(err.Error(), er.Error(), apiError{er}.Error(), 1)
	wrapped := &detailError{msg: detail, err: apiError{er}}
	switch {
	case er.Code == "NoSuchBucket":
		return fmt.Errorf("%s %s: bucket %q does not exist%s (check %s): %w",
			op, where, s.cfg.Bucket, endpoint, URLSetting, wrapped)
	case er.Code == "NoSuchKey" || (er.StatusCode == http.StatusNotFound && er.Code != "NoSuchUpload"):
		return fmt.Errorf("%s %s: %w", op, where, store.ErrNotFound)
	case er.StatusCode == http.StatusForbidden || er.Code == "AccessDenied" ||
		er.Code == "InvalidAccessKeyId" || er.Code == "SignatureDoesNotMatch":
		return fmt.Errorf("%s %s: refused%s for access key id %q (check the credentials and the bucket policy): %w",
			op, where, endpoint, s.keyID(), wrapped)
	}
	return fmt.Errorf("%s %s: %w", op, where, wrapped)
}

// detailError shows msg and unwraps to err.
type detailError struct {
	msg string
	err error
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.err }

// keyID returns the access key id in use, which is not secret and tells which credentials the
// server refused.
func (s *Store) keyID() string {
	if s.cfg.AccessKey != "" {
		return s.cfg.AccessKey
	}
	v, err := s.creds.Get()
	if err != nil || v.AccessKeyID == "" {
		return "(none found)"
	}
	return v.AccessKeyID
}
