package settings

import (
	"errors"
	"strconv"
	"strings"

	"github.com/pgsnap/pgsnap/internal/codec"
)

// pipelineSettings shape the stored bytes: compression and encryption.
var pipelineSettings = []Setting{
	{
		Env: "SNAPSHOT_COMPRESSION", Flag: "compression", Default: "zstd",
		Want: "zstd, zstd:1 to zstd:19, fastest, default, better, best or none",
		Doc:  "compression pgsnap applies (pg_dump itself never compresses); zstd is zstd's fastest level",
		set: func(c *Config, v string) error {
			if _, err := codec.ParseCompression(v); err != nil {
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
			keys := codec.SplitRecipients(v)
			if len(keys) == 0 {
				return errors.New("no public key")
			}
			if err := codec.RecipientProblems(keys); err != nil {
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
			keys, err := codec.ReadRecipientsFile(v)
			if err != nil {
				return err
			}
			if err := codec.RecipientProblems(keys); err != nil {
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
