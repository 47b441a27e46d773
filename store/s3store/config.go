package s3store

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// URLSetting names the setting that holds a store's location, for error messages.
const URLSetting = "SNAPSHOT_S3_URL"

const (
	// MinPartSize is the smallest part S3 accepts, except for an upload's last part.
	MinPartSize = 5 << 20
	// DefaultPartSize is the first part size when Config.PartSize is zero.
	DefaultPartSize = 16 << 20
	// MaxPartSize is the largest part S3 accepts; grown part sizes stop here.
	MaxPartSize = 5 << 30
	// MaxParts is the most parts one multipart upload may have.
	MaxParts = 10000
	// DefaultStaleUploadAge is StaleUploadAge when zero.
	DefaultStaleUploadAge = 24 * time.Hour
	// DefaultMaxAttempts, DefaultRetryBase and DefaultRetryMax are the retry settings when zero.
	DefaultMaxAttempts = 8
	DefaultRetryBase   = 500 * time.Millisecond
	DefaultRetryMax    = 15 * time.Second
)

// Server-side encryption modes for Config.ServerSideEncryption.
const (
	SSES3  = "AES256"
	SSEKMS = "aws:kms"
)

// Config describes an S3-compatible bucket and prefix and how to reach it. Its String and
// LogValue methods never show the secret key or session token.
type Config struct {
	// Bucket and Prefix locate the objects: key k is stored as Prefix + "/" + k (k alone when
	// Prefix is empty). ParseURL splits an s3://bucket/prefix URL into both.
	Bucket, Prefix string
	// Endpoint is "host[:port]" or "http[s]://host[:port]"; empty means AWS (s3.amazonaws.com).
	Endpoint string
	// Region signs requests; empty lets the client ask the bucket for its location.
	Region string
	// ForcePathStyle addresses the bucket in the path (host/bucket/key), as most S3-compatible
	// servers need, instead of the host name (bucket.host/key).
	ForcePathStyle bool
	// Insecure speaks plain HTTP. An "http://" Endpoint implies it.
	Insecure bool
	// AccessKey, SecretKey and SessionToken are static credentials. When AccessKey is empty the
	// client looks, in order, at the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN
	// environment, the AWS shared credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE),
	// then IAM: web identity (IRSA, AWS_WEB_IDENTITY_TOKEN_FILE), ECS task role and EC2
	// instance profile.
	AccessKey, SecretKey, SessionToken string
	// StorageClass is sent with every upload when set (e.g. "STANDARD_IA").
	StorageClass string
	// ServerSideEncryption is "", SSES3 ("AES256") or SSEKMS ("aws:kms", with KMSKeyID).
	ServerSideEncryption string
	// KMSKeyID is the KMS key for SSEKMS; empty uses the bucket's default key.
	KMSKeyID string
	// PartSize is the size of the first parts of a multipart upload: at least MinPartSize,
	// default DefaultPartSize. It doubles every 1,000 parts so that any object fits in MaxParts
	// (see PartSize and MaxObjectSize). A writer holds at most two parts in memory.
	PartSize int64
	// StaleUploadAge is how old an incomplete multipart upload must be before Sweep aborts it.
	// Set it longer than the longest allowed run (SNAPSHOT_TIMEOUT): S3 cannot tell a live
	// upload of another process from a dead one, so age is the only proof. Default 24h.
	StaleUploadAge time.Duration
	// MaxAttempts bounds the tries of one request on transient errors (5xx, 429, throttling,
	// connection failures); RetryBase and RetryMax shape the exponential backoff between them.
	MaxAttempts         int
	RetryBase, RetryMax time.Duration
	// DisableChecksums stops sending x-amz-checksum-* headers, for servers that reject them.
	// Parts are still protected in transit by Content-MD5 and the signed payload SHA-256, but
	// Writer.Verify and Store.Checksum then report ErrNoChecksum.
	DisableChecksums bool
	// Logger receives retries and warnings; nil discards them.
	Logger *slog.Logger
	// Transport replaces the HTTP transport (tests, proxies); nil uses the client's default.
	Transport http.RoundTripper
}

// ParseURL splits a store URL of the form s3://bucket[/prefix] into bucket and prefix. The
// prefix loses its leading and trailing slashes; it may contain inner slashes but no empty, "."
// or ".." segment. Errors name URLSetting and the accepted form, and never repeat user info.
func ParseURL(raw string) (bucket, prefix string, err error) {
	const form = "want s3://bucket[/prefix]"
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%s: not a URL, %s", URLSetting, form)
	}
	shown := redactURL(u)
	switch {
	case u.Scheme != "s3":
		return "", "", fmt.Errorf("%s=%s: scheme %q, %s", URLSetting, shown, u.Scheme, form)
	case u.User != nil:
		return "", "", fmt.Errorf("%s=%s: credentials do not belong in the URL; use the access key settings", URLSetting, shown)
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", "", fmt.Errorf("%s=%s: unexpected query or fragment, %s", URLSetting, shown, form)
	case u.Port() != "":
		return "", "", fmt.Errorf("%s=%s: a port belongs in the endpoint setting, %s", URLSetting, shown, form)
	}
	bucket = u.Host
	if err := s3utils.CheckValidBucketName(bucket); err != nil {
		return "", "", fmt.Errorf("%s=%s: bucket %q: %s, %s", URLSetting, shown, bucket, strings.ToLower(err.Error()), form)
	}
	prefix = strings.Trim(u.Path, "/")
	if err := checkPrefix(prefix); err != nil {
		return "", "", fmt.Errorf("%s=%s: %w", URLSetting, shown, err)
	}
	return bucket, prefix, nil
}

// checkPrefix rejects prefixes that would map keys to surprising object names.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > 512 {
		return fmt.Errorf("prefix of %d bytes, at most 512 allowed", len(prefix))
	}
	for _, seg := range strings.Split(prefix, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("prefix %q: empty, \".\" or \"..\" segment", prefix)
		}
	}
	for _, r := range prefix {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("prefix %q: control character or backslash", prefix)
		}
	}
	return nil
}

// redactURL shows u without its user info.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// withDefaults checks c and fills in defaults. Errors never show secrets.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if err := s3utils.CheckValidBucketName(c.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("bucket %q: %s", c.Bucket, strings.ToLower(err.Error())))
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	if err := checkPrefix(c.Prefix); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.PartSize == 0:
		c.PartSize = DefaultPartSize
	case c.PartSize < MinPartSize || c.PartSize > MaxPartSize:
		errs = append(errs, fmt.Errorf("part size %d: want %d to %d bytes", c.PartSize, MinPartSize, MaxPartSize))
	}
	switch c.ServerSideEncryption {
	case "", SSES3:
		if c.KMSKeyID != "" {
			errs = append(errs, fmt.Errorf("KMS key id set but server-side encryption is %q, want %q", c.ServerSideEncryption, SSEKMS))
		}
	case SSEKMS:
	default:
		errs = append(errs, fmt.Errorf("server-side encryption %q: want %q, %q or empty", c.ServerSideEncryption, SSES3, SSEKMS))
	}
	if c.AccessKey == "" && (c.SecretKey != "" || c.SessionToken != "") {
		errs = append(errs, errors.New("secret key or session token set without an access key"))
	}
	if c.AccessKey != "" && c.SecretKey == "" {
		errs = append(errs, fmt.Errorf("access key %s set without a secret key", c.AccessKey))
	}
	if c.StaleUploadAge < 0 || c.MaxAttempts < 0 || c.RetryBase < 0 || c.RetryMax < 0 {
		errs = append(errs, errors.New("negative stale upload age or retry setting"))
	}
	if c.StaleUploadAge == 0 {
		c.StaleUploadAge = DefaultStaleUploadAge
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.RetryBase == 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("s3 store %s: %w", c.location(), errors.Join(errs...))
	}
	return c, nil
}

// location is "s3://bucket/prefix".
func (c Config) location() string {
	if c.Prefix == "" {
		return "s3://" + c.Bucket
	}
	return "s3://" + c.Bucket + "/" + c.Prefix
}

// String describes c with secrets masked.
func (c Config) String() string {
	s := c.location()
	if c.Endpoint != "" {
		s += " (" + c.Endpoint + ")"
	}
	if c.AccessKey != "" {
		s += " key id " + c.AccessKey
	}
	return s
}

// GoString is String, so %#v shows no secrets either.
func (c Config) GoString() string { return "s3store.Config{" + c.String() + "}" }

// LogValue describes c for slog with secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", c.location()),
		slog.String("endpoint", c.Endpoint),
		slog.String("region", c.Region),
		slog.String("access_key", c.AccessKey),
		slog.Bool("secret_key_set", c.SecretKey != ""),
		slog.Bool("session_token_set", c.SessionToken != ""),
	)
}
