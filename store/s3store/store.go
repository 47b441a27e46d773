// Package s3store implements store.Store on an S3-compatible bucket and prefix.
//
// Key k is the object Prefix/k. A Writer streams its bytes as a multipart upload (a small object
// goes up in one PutObject at Commit), and Commit completes the upload with If-None-Match: *, so
// an object becomes visible only when it is whole and a commit never replaces another. Every part
// carries Content-MD5, a signed payload SHA-256 and x-amz-checksum-sha256, so the server rejects a
// part damaged in transit and records a composite checksum that Writer.Verify compares without
// downloading. Incomplete uploads are invisible to List; failed writers abort theirs and Sweep
// aborts those left by crashed processes once older than Config.StaleUploadAge.
//
// Transient failures (5xx, 429, throttling, connection errors, a part rejected for a bad digest)
// are retried per request with exponential backoff, Config.MaxAttempts at most; refusals (403)
// and missing objects or buckets are not. The client's own retries and trace are off, so every
// retry is counted and logged here. Secrets never appear in errors, logs or String.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/pgsnap/pgsnap/store"
)

var (
	_ store.Store      = (*Store)(nil)
	_ store.KeySweeper = (*Store)(nil)
)

// Conditional-write support of the endpoint, as Check found it.
const (
	condUnknown int32 = iota
	condHonoured
	condIgnored
)

// Store is a bucket and prefix on an S3-compatible endpoint.
type Store struct {
	cfg      Config
	core     *minio.Core
	creds    *credentials.Credentials
	endpoint string // scheme://host[:port], for messages
	custom   bool   // endpoint given in Config
	sse      encrypt.ServerSide
	log      *slog.Logger

	conditional atomic.Int32 // condUnknown, condHonoured or condIgnored

	live liveUploads // this Store's writers in progress
}

// liveUploads are the uploads of a Store's own writers in progress: Sweep never aborts them.
type liveUploads struct {
	mu  sync.Mutex
	ids map[string]string // upload ID -> object name
}

// New returns a Store for cfg. It does no I/O: call Check to verify the bucket and credentials.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3 store %s: %w", cfg.location(), err)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	host, secure, shown, err := parseEndpoint(cfg.Endpoint, cfg.Insecure)
	if err != nil {
		return nil, fmt.Errorf("s3 store %s: %w", cfg.location(), err)
	}
	s := &Store{
		cfg:      cfg,
		endpoint: shown,
		custom:   cfg.Endpoint != "",
		log:      cfg.Logger,
		live:     liveUploads{ids: map[string]string{}},
	}
	if cfg.AccessKey != "" {
		s.creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	} else {
		s.creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{},
		})
	}
	switch cfg.ServerSideEncryption {
	case SSES3:
		s.sse = encrypt.NewSSE()
	case SSEKMS:
		if s.sse, err = encrypt.NewSSEKMS(cfg.KMSKeyID, nil); err != nil {
			return nil, fmt.Errorf("s3 store %s: kms: %w", cfg.location(), err)
		}
	}
	lookup := minio.BucketLookupAuto
	if cfg.ForcePathStyle {
		lookup = minio.BucketLookupPath
	}
	s.core, err = minio.NewCore(host, &minio.Options{
		Creds:        s.creds,
		Secure:       secure,
		Transport:    cfg.Transport,
		Region:       cfg.Region,
		BucketLookup: lookup,
		// Retries happen in Store.retry, which knows which requests are safe to repeat, bounds
		// them by Config and logs them.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 store %s: endpoint %s: %w", cfg.location(), shown, err)
	}
	return s, nil
}

// parseEndpoint turns Config.Endpoint into the client's host[:port] and TLS choice, and the form
// shown in messages.
func parseEndpoint(ep string, insecure bool) (host string, secure bool, shown string, err error) {
	if ep == "" {
		ep = "s3.amazonaws.com"
	}
	if !strings.Contains(ep, "://") {
		secure = !insecure
		scheme := "https://"
		if !secure {
			scheme = "http://"
		}
		ep = scheme + ep
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", false, "", errors.New("endpoint: want host[:port] or http[s]://host[:port]")
	}
	switch u.Scheme {
	case "https":
		if insecure {
			return "", false, "", fmt.Errorf("endpoint %s is https but plain http was asked for", u.Host)
		}
		secure = true
	case "http":
		secure = false
	default:
		return "", false, "", fmt.Errorf("endpoint scheme %q: want http or https", u.Scheme)
	}
	return u.Host, secure, u.Scheme + "://" + u.Host, nil
}

// String describes the store as "s3://bucket/prefix", followed by the endpoint in parentheses
// when it is not AWS.
func (s *Store) String() string {
	if s.custom {
		return s.cfg.location() + " (" + s.endpoint + ")"
	}
	return s.cfg.location()
}

// Bucket returns the store's bucket.
func (s *Store) Bucket() string { return s.cfg.Bucket }

// Prefix returns the store's prefix, without slashes at either end.
func (s *Store) Prefix() string { return s.cfg.Prefix }

// object returns the object name holding key.
func (s *Store) object(key string) string {
	if s.cfg.Prefix == "" {
		return key
	}
	return s.cfg.Prefix + "/" + key
}

// listPrefix is what every object name of the store starts with.
func (s *Store) listPrefix() string {
	if s.cfg.Prefix == "" {
		return ""
	}
	return s.cfg.Prefix + "/"
}

// where names an object (or the store, for key "") in messages.
func (s *Store) where(key string) string {
	loc := "s3://" + s.cfg.Bucket + "/" + s.object(key)
	if key == "" {
		loc = s.cfg.location()
	}
	if s.custom {
		loc += " at " + s.endpoint
	}
	return loc
}

// start checks ctx and key for a method on one object and returns the object name.
func (s *Store) start(ctx context.Context, op, key string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("%s %s: %w", op, s.where(key), err)
	}
	if err := store.ValidKey(key); err != nil {
		return "", fmt.Errorf("%s in %s: %w", op, s, err)
	}
	return s.object(key), nil
}

// Open returns a reader of a committed object. The reader is bound to ctx. Only the request that
// starts the download is retried; a connection lost mid-read surfaces as a read error.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.start(ctx, "open", key)
	if err != nil {
		return nil, err
	}
	var body io.ReadCloser
	err = s.retry(ctx, "open", key, func(ctx context.Context) error {
		rc, _, _, err := s.core.GetObject(ctx, s.cfg.Bucket, obj, minio.GetObjectOptions{})
		body = rc
		return err
	})
	if err != nil {
		return nil, s.wrap("open", key, err)
	}
	return body, nil
}

// Stat describes a committed object.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	obj, err := s.start(ctx, "stat", key)
	if err != nil {
		return store.Info{}, err
	}
	oi, err := s.head(ctx, "stat", key, obj)
	if err != nil {
		return store.Info{}, err
	}
	return store.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// head stats obj with its checksum, retrying transient errors.
func (s *Store) head(ctx context.Context, op, key, obj string) (minio.ObjectInfo, error) {
	var oi minio.ObjectInfo
	err := s.retry(ctx, op, key, func(ctx context.Context) error {
		var err error
		oi, err = s.core.StatObject(ctx, s.cfg.Bucket, obj, minio.StatObjectOptions{Checksum: !s.cfg.DisableChecksums})
		return err
	})
	if err != nil {
		return minio.ObjectInfo{}, s.wrap(op, key, err)
	}
	return oi, nil
}

// exists reports whether a committed object holds key.
func (s *Store) exists(ctx context.Context, op, key string) (bool, error) {
	_, err := s.head(ctx, op, key, s.object(key))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// List returns the committed objects directly under the prefix whose names are valid keys,
// sorted by key. Objects deeper under the prefix, other prefixes' objects, probe objects and
// incomplete uploads are never listed. A listing that fails part way resumes after the last key
// seen.
func (s *Store) List(ctx context.Context) ([]store.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", s.where(""), err)
	}
	var infos []store.Info
	after := ""
	err := s.retry(ctx, "list", "", func(ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx) // ends the listing iterator if we stop early
		defer cancel()
		opts := minio.ListObjectsOptions{Prefix: s.listPrefix(), MaxKeys: 1000, StartAfter: after}
		for oi := range s.core.ListObjectsIter(ctx, s.cfg.Bucket, opts) {
			if oi.Err != nil {
				return oi.Err
			}
			after = oi.Key
			key := strings.TrimPrefix(oi.Key, s.listPrefix())
			if store.ValidKey(key) != nil {
				continue
			}
			infos = append(infos, store.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified})
		}
		return nil
	})
	if err != nil {
		return nil, s.wrap("list", "", err)
	}
	// S3 promises UTF-8 binary order, but not every compatible server keeps it.
	slices.SortFunc(infos, func(a, b store.Info) int { return strings.Compare(a.Key, b.Key) })
	return slices.CompactFunc(infos, func(a, b store.Info) bool { return a.Key == b.Key }), nil
}

// Delete removes a committed object. A missing object is not an error. S3 deletions are
// strongly consistent, so a nil return means the object is gone for every later reader.
func (s *Store) Delete(ctx context.Context, key string) error {
	obj, err := s.start(ctx, "delete", key)
	if err != nil {
		return err
	}
	err = s.retry(ctx, "delete", key, func(ctx context.Context) error {
		return s.core.RemoveObject(ctx, s.cfg.Bucket, obj, minio.RemoveObjectOptions{})
	})
	if err := s.wrap("delete", key, err); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// add records a writer's upload as live, so Sweep on this Store never aborts it.
func (l *liveUploads) add(uploadID, obj string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids[uploadID] = obj
}

func (l *liveUploads) remove(uploadID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.ids, uploadID)
}

func (l *liveUploads) has(uploadID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.ids[uploadID]
	return ok
}

// GoString is String, so that %#v shows no credentials either.
func (s *Store) GoString() string { return "s3store.Store(" + s.String() + ")" }

// LogValue describes the store for slog, as String does.
func (s *Store) LogValue() slog.Value { return slog.StringValue(s.String()) }
