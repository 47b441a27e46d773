package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/store/s3store"
)

// S3Config is an S3-compatible destination (SNAPSHOT_S3_*). Printing it never shows the secret
// key or session token.
type S3Config struct {
	// URL is s3://bucket/prefix (SNAPSHOT_S3_URL); empty means no S3 destination.
	URL string
	// Endpoint is host[:port] or http(s)://host[:port] (SNAPSHOT_S3_ENDPOINT); empty means AWS.
	Endpoint string
	// Region (SNAPSHOT_S3_REGION); empty asks the bucket.
	Region string
	// ForcePathStyle puts the bucket in the path, as MinIO, Ceph and most others need
	// (SNAPSHOT_S3_FORCE_PATH_STYLE).
	ForcePathStyle bool
	// Insecure speaks plain HTTP (SNAPSHOT_S3_INSECURE): for a server on loopback only.
	Insecure bool
	// StorageClass of every object (SNAPSHOT_S3_STORAGE_CLASS), e.g. STANDARD_IA.
	StorageClass string
	// SSE is server-side encryption: "", "AES256" or "aws:kms" (SNAPSHOT_S3_SSE), with
	// SSEKMSKeyID (SNAPSHOT_S3_SSE_KMS_KEY_ID).
	SSE, SSEKMSKeyID string
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or their _FILE variants). Empty: the AWS chain
	// (environment, shared credentials file, web identity, ECS and EC2 roles).
	AccessKeyID, SecretAccessKey, SessionToken string
}

// String shows the destination without credentials.
func (c S3Config) String() string {
	if c.URL == "" {
		return ""
	}
	s := c.URL
	if c.Endpoint != "" {
		s += " (" + c.Endpoint + ")"
	}
	return s
}

var s3Settings = []Setting{
	{
		Env: "SNAPSHOT_S3_URL", Flag: "s3-url", EmptyIsUnset: true,
		Want: "s3://bucket or s3://bucket/prefix",
		Doc:  "keep snapshots in this S3-compatible bucket and prefix (as well as SNAPSHOT_DIR when set)",
		set: func(c *Config, v string) error {
			if _, _, err := s3store.ParseURL(v); err != nil {
				return errors.New(strings.TrimPrefix(err.Error(), s3store.URLSetting+": "))
			}
			c.S3.URL = v
			return nil
		},
	},
	{
		Env: "SNAPSHOT_S3_ENDPOINT", Flag: "s3-endpoint", EmptyIsUnset: true,
		Want: "host[:port] or http(s)://host[:port] (empty: AWS)",
		Doc:  "S3-compatible endpoint (MinIO, Ceph, R2, B2, Wasabi...)",
		set:  func(c *Config, v string) error { c.S3.Endpoint = v; return nil },
	},
	{
		Env: "SNAPSHOT_S3_REGION", Flag: "s3-region", EmptyIsUnset: true,
		Want: "a region name such as eu-west-1",
		Doc:  "region of the bucket (default: asked from the bucket)",
		set:  func(c *Config, v string) error { c.S3.Region = v; return nil },
	},
	{
		Env: "SNAPSHOT_S3_FORCE_PATH_STYLE", Flag: "s3-force-path-style", Default: "false",
		Want: "true, false, 1, 0, yes or no",
		Doc:  "address the bucket in the path (most S3-compatible servers)",
		set: func(c *Config, v string) (err error) {
			c.S3.ForcePathStyle, err = ParseBool(v)
			return err
		},
	},
	{
		Env: "SNAPSHOT_S3_INSECURE", Flag: "s3-insecure", Default: "false",
		Want: "true, false, 1, 0, yes or no",
		Doc:  "plain HTTP to the endpoint (a server on loopback only)",
		set: func(c *Config, v string) (err error) {
			c.S3.Insecure, err = ParseBool(v)
			return err
		},
	},
	{
		Env: "SNAPSHOT_S3_STORAGE_CLASS", Flag: "s3-storage-class", EmptyIsUnset: true,
		Want: "a storage class such as STANDARD_IA",
		Doc:  "storage class of uploaded objects",
		set:  func(c *Config, v string) error { c.S3.StorageClass = v; return nil },
	},
	{
		Env: "SNAPSHOT_S3_SSE", Flag: "s3-sse", EmptyIsUnset: true,
		Want: "AES256 or aws:kms",
		Doc:  "server-side encryption of uploaded objects",
		set: func(c *Config, v string) error {
			var sse string
			if err := oneOf(&sse, v, s3store.SSES3, s3store.SSEKMS); err != nil {
				return err
			}
			c.S3.SSE = sse
			return nil
		},
	},
	{
		Env: "SNAPSHOT_S3_SSE_KMS_KEY_ID", Flag: "s3-sse-kms-key-id", EmptyIsUnset: true,
		Want: "a KMS key id or ARN",
		Doc:  "KMS key for SNAPSHOT_S3_SSE=aws:kms (default: the bucket's)",
		set:  func(c *Config, v string) error { c.S3.SSEKMSKeyID = v; return nil },
	},
	credentialSetting("AWS_ACCESS_KEY_ID", "access key id", false, func(c *Config, v string) { c.S3.AccessKeyID = v }),
	credentialSetting("AWS_SECRET_ACCESS_KEY", "secret access key", true, func(c *Config, v string) { c.S3.SecretAccessKey = v }),
	credentialSetting("AWS_SESSION_TOKEN", "session token", true, func(c *Config, v string) { c.S3.SessionToken = v }),
	fileSetting("AWS_ACCESS_KEY_ID_FILE", "AWS_ACCESS_KEY_ID", func(c *Config, v string) { c.S3.AccessKeyID = v }),
	fileSetting("AWS_SECRET_ACCESS_KEY_FILE", "AWS_SECRET_ACCESS_KEY", func(c *Config, v string) { c.S3.SecretAccessKey = v }),
	fileSetting("AWS_SESSION_TOKEN_FILE", "AWS_SESSION_TOKEN", func(c *Config, v string) { c.S3.SessionToken = v }),
}

// credentialSetting is an S3 credential read from the environment only: no flag, since command
// lines are visible to every user of the machine.
func credentialSetting(env, what string, secret bool, set func(*Config, string)) Setting {
	return Setting{
		Env: env, Secret: secret, hide: secret, EmptyIsUnset: true,
		Want: "the S3 " + what + " (environment only)",
		Doc:  "S3 " + what + " (default: the AWS credential chain)",
		set: func(c *Config, v string) error {
			set(c, v)
			return nil
		},
	}
}

// fileSetting reads a credential from a file (Docker and Kubernetes secrets): the value is the
// file's content without the final line break.
func fileSetting(env, of string, set func(*Config, string)) Setting {
	return Setting{
		Env: env, EmptyIsUnset: true,
		Want: "a file holding " + of,
		Doc:  of + ", read from this file",
		set: func(c *Config, v string) error {
			value, err := readValueFile(v)
			if err == nil {
				set(c, value)
			}
			return err
		},
	}
}

// readValueFile reads a setting's value from a file (Docker and Kubernetes secrets, systemd
// credentials): its content without the final line break. Errors never show the content.
func readValueFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read: %w", errors.Unwrap(err))
	}
	value := strings.TrimRight(string(b), "\r\n")
	if value == "" {
		return "", errors.New("the file is empty")
	}
	return value, nil
}

// hasRemote reports whether an object-storage destination is configured.
func (c Config) HasRemote() bool { return c.S3.URL != "" }

// validateS3 adds the S3 settings' problems to errs.
func (c Config) validateS3(bad func(env, value, problem string)) {
	if c.S3.URL == "" {
		return
	}
	if _, _, err := s3store.ParseURL(c.S3.URL); err != nil {
		bad("SNAPSHOT_S3_URL", c.S3.URL, strings.TrimPrefix(err.Error(), s3store.URLSetting+": "))
	}
	if c.S3.SSE != "" && c.S3.SSE != s3store.SSES3 && c.S3.SSE != s3store.SSEKMS {
		bad("SNAPSHOT_S3_SSE", c.S3.SSE, "not one of AES256, aws:kms")
	}
	if (c.S3.AccessKeyID == "") != (c.S3.SecretAccessKey == "") {
		bad("AWS_SECRET_ACCESS_KEY", "", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together")
	}
}

// Warnings are what the configuration allows but an operator should hear about at start-up,
// one line each (they never hold a secret).
func (c Config) Warnings() []string {
	var out []string
	if host, plain := c.S3.plainHTTPHost(); plain && !isLoopback(host) {
		setting := "SNAPSHOT_S3_INSECURE=true"
		if !c.S3.Insecure {
			setting = "SNAPSHOT_S3_ENDPOINT=" + strconv.Quote(c.S3.Endpoint)
		}
		out = append(out, fmt.Sprintf("%s: plain HTTP to %s, which is not a loopback address: "+
			"snapshot bytes cross the network unencrypted, and anyone on the way can pose as the endpoint; use https", setting, host))
	}
	return out
}

// plainHTTPHost returns the S3 endpoint's host and whether it is spoken to in plain HTTP.
func (c S3Config) plainHTTPHost() (host string, plain bool) {
	if c.URL == "" {
		return "", false
	}
	ep := c.Endpoint
	if ep == "" {
		ep = "s3.amazonaws.com"
	}
	rest, isHTTP := strings.CutPrefix(ep, "http://")
	rest = strings.TrimPrefix(rest, "https://")
	rest, _, _ = strings.Cut(rest, "/")
	if h, _, err := net.SplitHostPort(rest); err == nil {
		rest = h
	}
	return strings.Trim(rest, "[]"), isHTTP || c.Insecure
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// S3Store is the s3store configuration of the S3 destination; ok is false when none is set.
func (c Config) S3Store(log *slog.Logger) (cfg s3store.Config, ok bool, err error) {
	if c.S3.URL == "" {
		return s3store.Config{}, false, nil
	}
	bucket, prefix, err := s3store.ParseURL(c.S3.URL)
	if err != nil {
		return s3store.Config{}, false, Lookup("SNAPSHOT_S3_URL").Problem(c.S3.URL, err)
	}
	return s3store.Config{
		Bucket: bucket, Prefix: prefix,
		Endpoint: c.S3.Endpoint, Region: c.S3.Region,
		ForcePathStyle: c.S3.ForcePathStyle, Insecure: c.S3.Insecure,
		AccessKey: c.S3.AccessKeyID, SecretKey: c.S3.SecretAccessKey, SessionToken: c.S3.SessionToken,
		StorageClass: c.S3.StorageClass, ServerSideEncryption: c.S3.SSE, KMSKeyID: c.S3.SSEKMSKeyID,
		// Never abort another pgsnap's upload in progress: only one older than any run may be.
		StaleUploadAge: max(c.Timeout+time.Hour, s3store.DefaultStaleUploadAge),
		Logger:         log,
	}, true, nil
}
