package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

// EncryptionAge is the encryption a manifest records for snapshots encrypted with age
// (https://age-encryption.org) to the public keys in its recipients field.
const EncryptionAge = "age"

// ParseRecipient parses one public key: age X25519 (age1...), age post-quantum hybrid
// (age1pq1...) or SSH (ssh-ed25519 / ssh-rsa ...).
func ParseRecipient(s string) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		return age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "age1"):
		return age.ParseX25519Recipient(s)
	case strings.HasPrefix(s, "ssh-"):
		return agessh.ParseRecipient(s)
	case strings.HasPrefix(s, "AGE-SECRET-KEY-"):
		// Never echo it: the caller quotes what it was given only up to the first bytes.
		return nil, errors.New("this is an age identity (a private key); give its public key (age-keygen -y)")
	}
	return nil, errors.New("not an age public key (age1...) or SSH public key (ssh-ed25519 or ssh-rsa)")
}

// SplitRecipients splits SNAPSHOT_AGE_RECIPIENTS: keys separated by commas or new lines (SSH
// keys hold spaces). Empty entries and lines starting with # are skipped.
func SplitRecipients(v string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' }) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// ReadRecipientsFile reads an age recipients file: one public key per line, # comments.
func ReadRecipientsFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(b, []byte("AGE-SECRET-KEY-")) || bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		return nil, errors.New("the file holds a private key; a recipients file holds public keys only")
	}
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		keys = append(keys, SplitRecipients(sc.Text())...)
	}
	if len(keys) == 0 {
		return nil, errors.New("no public key in the file")
	}
	return keys, nil
}

// RecipientProblems checks every key, naming the bad ones by position (a key is public, but a
// private key pasted by mistake must not be echoed).
func RecipientProblems(keys []string) error {
	var errs []error
	for i, k := range keys {
		if _, err := ParseRecipient(k); err != nil {
			errs = append(errs, fmt.Errorf("key %d (%.12s...): %w", i+1, SafePrefix(k), err))
		}
	}
	return errors.Join(errs...)
}

// SafePrefix is the start of k unless k looks like a private key.
func SafePrefix(k string) string {
	if strings.HasPrefix(k, "AGE-SECRET-KEY-") {
		return "AGE-SECRET-KEY-"
	}
	return k
}

// ParseRecipients parses public keys, naming the first bad one by its position.
func ParseRecipients(keys []string) ([]age.Recipient, error) {
	out := make([]age.Recipient, 0, len(keys))
	for i, k := range keys {
		r, err := ParseRecipient(k)
		if err != nil {
			return nil, fmt.Errorf("key %d (%.12s...): %w", i+1, SafePrefix(k), err)
		}
		out = append(out, r)
	}
	return out, nil
}

// IdentityError explains why an encrypted snapshot could not be decrypted: no identity file
// configured, one that cannot be read, or one that matches none of the snapshot's recipients.
type IdentityError struct {
	Snapshot   string
	File       string   // SNAPSHOT_AGE_IDENTITY_FILE, "" when not set
	Recipients []string // the snapshot's public keys, from its manifest
	Problem    string
}

func (e *IdentityError) Error() string {
	keys := strings.Join(e.Recipients, ", ")
	if e.File == "" {
		return fmt.Sprintf("snapshot %s is encrypted with age to %s: set SNAPSHOT_AGE_IDENTITY_FILE to a file holding a matching identity", e.Snapshot, keys)
	}
	return fmt.Sprintf("snapshot %s: SNAPSHOT_AGE_IDENTITY_FILE=%q: %s (the snapshot is encrypted to %s)", e.Snapshot, e.File, e.Problem, keys)
}

// LoadIdentities reads SNAPSHOT_AGE_IDENTITY_FILE: age identities (AGE-SECRET-KEY-1..., one per
// line) or an unencrypted OpenSSH private key.
func LoadIdentities(path string) ([]age.Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", errors.Unwrap(err))
	}
	if bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		id, err := agessh.ParseIdentity(b)
		if err != nil {
			return nil, fmt.Errorf("not a usable SSH private key: %w", err)
		}
		if _, ok := id.(*agessh.EncryptedSSHIdentity); ok {
			return nil, errors.New("the SSH private key has a passphrase; pgsnap cannot ask for it: use an age identity file")
		}
		return []age.Identity{id}, nil
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil {
		// age's parse errors never quote a key.
		return nil, fmt.Errorf("not an age identity file (AGE-SECRET-KEY-1..., one per line): %w", err)
	}
	return ids, nil
}

// Identities returns the identities in file that decrypt the snapshot named snapshot, encrypted
// to recipients: an *IdentityError when file is empty or unusable.
func Identities(file, snapshot string, recipients []string) ([]age.Identity, error) {
	if file == "" {
		return nil, &IdentityError{Snapshot: snapshot, Recipients: recipients}
	}
	ids, err := LoadIdentities(file)
	if err != nil {
		return nil, &IdentityError{Snapshot: snapshot, File: file, Recipients: recipients, Problem: err.Error()}
	}
	return ids, nil
}

// IdentityMismatch turns age's "no identity matched" into an *IdentityError; other errors are
// returned unchanged.
func IdentityMismatch(file, snapshot string, recipients []string, err error) error {
	if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
		return &IdentityError{Snapshot: snapshot, File: file, Recipients: recipients,
			Problem: "no identity in the file matches the snapshot's recipients"}
	}
	return err
}
