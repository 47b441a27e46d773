package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pgsnap/pgsnap/store/s3store"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url            string
		bucket, prefix string
		errPart        string // "" when valid
	}{
		{"s3://bucket", "bucket", "", ""},
		{"s3://bucket/", "bucket", "", ""},
		{"s3://my.bucket-1/snapshots", "my.bucket-1", "snapshots", ""},
		{"s3://bucket/a/b/c/", "bucket", "a/b/c", ""},
		{"s3://bucket//a", "bucket", "a", ""},
		{"", "", "", "scheme"},
		{"bucket/prefix", "", "", "scheme"},
		{"https://bucket/prefix", "", "", `scheme "https"`},
		{"s3://", "", "", "bucket"},
		{"s3://b/x", "", "", "bucket"},
		{"s3://bucket:9000/x", "", "", "port"},
		{"s3://bucket/x?region=eu", "", "", "query"},
		{"s3://bucket/a//b", "", "", "segment"},
		{"s3://bucket/a/../b", "", "", "segment"},
		{"s3://key:hunter2@bucket/x", "", "", "credentials"},
		{"s3://bucket/a%00b", "", "", "control"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			bucket, prefix, err := s3store.ParseURL(tt.url)
			if tt.errPart == "" {
				if err != nil || bucket != tt.bucket || prefix != tt.prefix {
					t.Errorf("ParseURL(%q) = %q, %q, %v, want %q, %q, nil", tt.url, bucket, prefix, err, tt.bucket, tt.prefix)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseURL(%q) = %q, %q, nil, want an error about %s", tt.url, bucket, prefix, tt.errPart)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.errPart) || !strings.Contains(msg, s3store.URLSetting) {
				t.Errorf("ParseURL(%q) = %q, want it to name %s and mention %q", tt.url, msg, s3store.URLSetting, tt.errPart)
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("ParseURL(%q) = %q, shows the password", tt.url, msg)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	good := s3store.Config{Bucket: "bucket", AccessKey: "AKIDEXAMPLE", SecretKey: "s3cr3t-value"}
	tests := []struct {
		name    string
		mut     func(*s3store.Config)
		errPart string
	}{
		{"bad bucket", func(c *s3store.Config) { c.Bucket = "B" }, "bucket"},
		{"small parts", func(c *s3store.Config) { c.PartSize = 1 << 20 }, "part size"},
		{"huge parts", func(c *s3store.Config) { c.PartSize = 6 << 30 }, "part size"},
		{"sse", func(c *s3store.Config) { c.ServerSideEncryption = "rot13" }, "server-side encryption"},
		{"kms key without kms", func(c *s3store.Config) { c.KMSKeyID = "k" }, "KMS"},
		{"secret without key", func(c *s3store.Config) { c.AccessKey = "" }, "without an access key"},
		{"key without secret", func(c *s3store.Config) { c.SecretKey = "" }, "without a secret"},
		{"endpoint path", func(c *s3store.Config) { c.Endpoint = "http://host/path" }, "endpoint"},
		{"endpoint user", func(c *s3store.Config) { c.Endpoint = "http://u:s3cr3t-value@host" }, "endpoint"},
		{"endpoint scheme", func(c *s3store.Config) { c.Endpoint = "ftp://host" }, "scheme"},
		{"https but insecure", func(c *s3store.Config) { c.Endpoint, c.Insecure = "https://host", true }, "https"},
		{"negative retry", func(c *s3store.Config) { c.MaxAttempts = -1 }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := good
			tt.mut(&c)
			_, err := s3store.New(t.Context(), c)
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Fatalf("New(%v) = %v, want an error about %q", c, err, tt.errPart)
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Errorf("New() = %q, shows the secret", err)
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s3store.New(ctx, good); !errors.Is(err, context.Canceled) {
		t.Errorf("New(cancelled ctx) = %v, want context.Canceled", err)
	}
	if _, err := s3store.New(t.Context(), good); err != nil {
		t.Errorf("New(%v) = %v, want nil", good, err)
	}
}

func TestPartSize(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	tests := []struct {
		base int64
		n    int
		want int64
	}{
		{16 * mib, 1, 16 * mib},
		{16 * mib, 1000, 16 * mib},
		{16 * mib, 1001, 32 * mib},
		{16 * mib, 2001, 64 * mib},
		{16 * mib, 9000, 4096 * mib},
		{16 * mib, 9001, s3store.MaxPartSize},
		{16 * mib, 10000, s3store.MaxPartSize},
		{5 * mib, 10000, 5 * mib << 9},
		{s3store.MaxPartSize, 1, s3store.MaxPartSize},
		{s3store.MaxPartSize, 5000, s3store.MaxPartSize},
	}
	for _, tt := range tests {
		if got := s3store.PartSize(tt.base, tt.n); got != tt.want {
			t.Errorf("PartSize(%d, %d) = %d, want %d", tt.base, tt.n, got, tt.want)
		}
	}
}

// TestPartSizeFitsLargeObjects writes objects of 10 TB and more part by part, as a Writer cuts
// them, and checks that every part is within S3's limits and the count within MaxParts.
func TestPartSizeFitsLargeObjects(t *testing.T) {
	t.Parallel()
	const tb = 1_000_000_000_000
	tests := []struct {
		base int64
		size int64
	}{
		{s3store.DefaultPartSize, 10 * tb},
		{s3store.DefaultPartSize, s3store.MaxObjectSize(s3store.DefaultPartSize)},
		{s3store.MinPartSize, 5 * tb},
		{64 << 20, 20 * tb},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d bytes in parts from %d", tt.size, tt.base), func(t *testing.T) {
			t.Parallel()
			parts, left := 0, tt.size
			for left > 0 {
				parts++
				size := s3store.PartSize(tt.base, parts)
				if size < s3store.MinPartSize || size > s3store.MaxPartSize {
					t.Fatalf("part %d: %d bytes, want %d to %d", parts, size, s3store.MinPartSize, s3store.MaxPartSize)
				}
				left -= size
			}
			if parts > s3store.MaxParts {
				t.Errorf("%d bytes took %d parts, want at most %d", tt.size, parts, s3store.MaxParts)
			}
		})
	}
	if got := s3store.MaxObjectSize(s3store.DefaultPartSize); got < 10*tb {
		t.Errorf("MaxObjectSize(default) = %d, want at least 10 TB", got)
	}
	if got, want := s3store.MaxObjectSize(s3store.MinPartSize), int64(1000*s3store.MinPartSize*1023); got != want {
		t.Errorf("MaxObjectSize(min) = %d, want %d", got, want)
	}
}
