package pgsnap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Compression settings (SNAPSHOT_COMPRESSION) and what manifests record.
const (
	// CompressionNone stores the archive as pg_dump wrote it with -Z0: uncompressed.
	CompressionNone = "none"
)

// pipelineSettings shape the stored bytes: compression and encryption.
var pipelineSettings = []Setting{
	{
		Env: "SNAPSHOT_COMPRESSION", Flag: "compression", Default: "zstd",
		Want: "zstd, zstd:1 to zstd:19, fastest, default, better, best or none",
		Doc:  "compression pgsnap applies (pg_dump itself never compresses); zstd is zstd's fastest level",
		set: func(c *Config, v string) error {
			if _, err := parseCompression(v); err != nil {
				return err
			}
			c.Compression = v
			return nil
		},
	},
	{
		Env: "SNAPSHOT_COMPRESSION_THREADS", Flag: "compression-threads", Default: "0",
		Want: "a whole number from 0 to 256 (0: one per CPU)",
		Doc:  "goroutines compressing in parallel",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxThreads || strings.TrimSpace(v) != v {
				return errors.New("not a whole number from 0 to 256")
			}
			c.CompressionThreads = n
			return nil
		},
	},
	{
		Env: "SNAPSHOT_AGE_RECIPIENTS", Flag: "age-recipients", EmptyIsUnset: true,
		Want: "age public keys (age1...) or SSH public keys, separated by commas or new lines",
		Doc:  "encrypt snapshots with age to these public keys",
		set: func(c *Config, v string) error {
			keys := splitRecipients(v)
			if len(keys) == 0 {
				return errors.New("no public key")
			}
			if err := recipientProblems(keys); err != nil {
				return err
			}
			c.AgeRecipients = append(c.AgeRecipients, keys...)
			return nil
		},
	},
	{
		Env: "SNAPSHOT_AGE_RECIPIENTS_FILE", Flag: "age-recipients-file", EmptyIsUnset: true,
		Want: "a file of age or SSH public keys, one per line (# comments)",
		Doc:  "encrypt snapshots with age to the public keys in this file",
		set: func(c *Config, v string) error {
			keys, err := readRecipientsFile(v)
			if err != nil {
				return err
			}
			if err := recipientProblems(keys); err != nil {
				return err
			}
			c.AgeRecipients = append(c.AgeRecipients, keys...)
			return nil
		},
	},
	{
		Env: "SNAPSHOT_AGE_IDENTITY_FILE", Flag: "age-identity-file", EmptyIsUnset: true,
		Want: "a file holding age identities (AGE-SECRET-KEY-1...) or an OpenSSH private key without passphrase",
		Doc:  "private key that decrypts snapshots, for restore, verify and drills",
		set: func(c *Config, v string) error {
			c.AgeIdentityFile = v
			return nil
		},
	},
}

// maxThreads bounds SNAPSHOT_COMPRESSION_THREADS: more only costs memory.
const maxThreads = 256

// compressionSpec is a parsed SNAPSHOT_COMPRESSION.
type compressionSpec struct {
	kind  string            // CompressionZstd or CompressionNone
	level zstd.EncoderLevel // for zstd
}

// parseCompression reads SNAPSHOT_COMPRESSION. zstd:N maps zstd's levels onto the four the
// encoder implements (1-2 fastest, 3-5 default, 6-9 better, 10-19 best).
func parseCompression(v string) (compressionSpec, error) {
	switch v {
	case "", "zstd", "fastest":
		return compressionSpec{CompressionZstd, zstd.SpeedFastest}, nil
	case "default":
		return compressionSpec{CompressionZstd, zstd.SpeedDefault}, nil
	case "better":
		return compressionSpec{CompressionZstd, zstd.SpeedBetterCompression}, nil
	case "best":
		return compressionSpec{CompressionZstd, zstd.SpeedBestCompression}, nil
	case CompressionNone:
		return compressionSpec{kind: CompressionNone}, nil
	}
	n, ok := strings.CutPrefix(v, "zstd:")
	if !ok {
		return compressionSpec{}, errors.New("unknown compression")
	}
	level, err := strconv.Atoi(n)
	if err != nil || level < 1 || level > 19 {
		return compressionSpec{}, fmt.Errorf("zstd level %q is not a whole number from 1 to 19", n)
	}
	return compressionSpec{CompressionZstd, zstd.EncoderLevelFromZstd(level)}, nil
}
