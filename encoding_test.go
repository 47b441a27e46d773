package pgsnap_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
)

// ageKey makes an age X25519 key pair: the public key and a 0600 identity file.
func ageKey(t *testing.T) (recipient, identityFile string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identityFile = filepath.Join(t.TempDir(), "age.key")
	if err := os.WriteFile(identityFile, []byte("# test key\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String(), identityFile
}

// sshKey makes an ssh-ed25519 key pair: the authorized_keys line and an OpenSSH private key file.
func sshKey(t *testing.T) (recipient, identityFile string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "pgsnap test")
	if err != nil {
		t.Fatal(err)
	}
	identityFile = filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(identityFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " backup@test", identityFile
}

// requireTool finds a command-line tool; in CI (CI=true) a missing one fails the test.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed: .ci/run installs it", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// Every compression and encryption round trips: snapshot, quick and full verify, restore into a
// new database, same data; and the standard zstd and age tools read what pgsnap stored.
func TestRoundTripEveryEncoding(t *testing.T) {
	f := newFixture(t, awkwardSQL)
	ageRecipient, ageIdentity := ageKey(t)
	sshRecipient, sshIdentity := sshKey(t)
	want := f.c.FingerprintDB(t, f.db)
	encryptions := []struct {
		name, recipient, identity string
	}{
		{"plain", "", ""},
		{"age", ageRecipient, ageIdentity},
		{"ssh", sshRecipient, sshIdentity},
	}
	for _, compression := range []string{"zstd", "better", "none"} {
		for _, enc := range encryptions {
			t.Run(compression+"/"+enc.name, func(t *testing.T) {
				cfg := f.config(f.c.URL(f.db))
				cfg.Dir = filepath.Join(t.TempDir(), "snapshots")
				cfg.Compression = compression
				cfg.Verify = pgsnap.VerifyFull
				if enc.recipient != "" {
					cfg.AgeRecipients = []string{enc.recipient}
					cfg.AgeIdentityFile = enc.identity
				}
				s := f.scheduler(t, cfg)
				snap, err := s.SnapshotNow(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				wantSuffix := map[string]string{"zstd": ".dump.zst", "better": ".dump.zst", "none": ".dump"}[compression]
				if enc.recipient != "" {
					wantSuffix += ".age"
				}
				if !strings.HasSuffix(snap.Data, wantSuffix) || snap.Encrypted != (enc.recipient != "") {
					t.Errorf("data %q encrypted %v, want suffix %q encrypted %v", snap.Data, snap.Encrypted, wantSuffix, enc.recipient != "")
				}
				if enc.recipient != "" && !slices.Equal(snap.Recipients, []string{enc.recipient}) {
					t.Errorf("manifest recipients = %q, want %q", snap.Recipients, enc.recipient)
				}
				manifest, _ := os.ReadFile(filepath.Join(cfg.Dir, snap.Name+".json"))
				if bytes.Contains(manifest, []byte("AGE-SECRET-KEY")) || bytes.Contains(manifest, []byte("PRIVATE KEY")) {
					t.Errorf("manifest holds a private key:\n%s", manifest)
				}
				r := s.Verify(t.Context(), snap, pgsnap.VerifyOptions{Full: true})
				if !r.OK {
					t.Errorf("verify --full = %+v, want ok", r)
				}
				target := f.db + "_" + compression + "_" + enc.name
				t.Cleanup(func() { f.c.DropDatabase(context.Background(), target) })
				if _, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(target)), Jobs: 2}); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, f.c.FingerprintDB(t, target)); diff != "" {
					t.Errorf("restored database differs (-source +restored):\n%s", diff)
				}
				assertStandardToolsRead(t, filepath.Join(cfg.Dir, snap.Data), compression, enc.identity)
				invariants.AssertStoreInvariants(t, cfg.Dir, invariants.Options{Cluster: f.c, DirCreated: true})
			})
		}
	}
}

// assertStandardToolsRead decodes a stored object with the age and zstd command-line tools and
// lets pg_restore --list read the result.
func assertStandardToolsRead(t *testing.T, path, compression, identity string) {
	t.Helper()
	pgRestore := "/usr/lib/postgresql/15/bin/pg_restore"
	var stages []string
	if identity != "" {
		stages = append(stages, requireTool(t, "age")+" -d -i "+identity+" "+path)
	} else {
		stages = append(stages, "cat "+path)
	}
	if compression != "none" {
		stages = append(stages, requireTool(t, "zstd")+" -dc")
	}
	// Decode all of it (a broken stream fails the pipeline), then list what came out.
	archive := filepath.Join(t.TempDir(), "decoded.dump")
	script := "set -o pipefail; " + strings.Join(stages, " | ") + " > " + archive + " && " + pgRestore + " --list " + archive
	cmd := exec.Command("bash", "-c", script)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("TABLE DATA")) {
		t.Errorf("%s: %v\n%.400s", script, err, out)
	}
}

// An encrypted snapshot is taken without the private key (the gate checks the stored bytes), and
// restore says which setting is missing or wrong.
func TestEncryptedSnapshotNeedsIdentity(t *testing.T) {
	invariants.Fault(t, "T31")
	f := newFixture(t, "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
	recipient, identity := ageKey(t)
	_, otherIdentity := ageKey(t)
	cfg := f.config(f.c.URL(f.db))
	cfg.AgeRecipients = []string{recipient}
	s := f.scheduler(t, cfg)
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatalf("SnapshotNow without an identity file = %v, want the gate to pass on the stored bytes", err)
	}
	target := pgsnap.ConnString(f.c.URL(f.db + "_r"))
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), f.db+"_r") })
	for _, tc := range []struct {
		identity string
		want     string
	}{
		{"", "set SNAPSHOT_AGE_IDENTITY_FILE"},
		{otherIdentity, "no identity in the file matches"},
		{filepath.Join(t.TempDir(), "missing.key"), "no such file"},
	} {
		cfg.AgeIdentityFile = tc.identity
		s := f.scheduler(t, cfg)
		_, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: target})
		var ie *pgsnap.IdentityError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), recipient) {
			t.Errorf("restore with identity file %q = %v, want an IdentityError saying %q and naming %s", tc.identity, err, tc.want, recipient)
		}
		if exists(t, f, f.db+"_r") {
			t.Errorf("restore with identity file %q created the target database", tc.identity)
		}
	}
	cfg.AgeIdentityFile = identity
	s = f.scheduler(t, cfg)
	if _, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: target}); err != nil {
		t.Errorf("restore with the right identity = %v", err)
	}
}

// With encryption on, no file pgsnap writes holds plaintext, during the dump or after it. The
// scan is shown to work on an unencrypted snapshot first.
func TestNoPlaintextOnDisk(t *testing.T) {
	invariants.Fault(t, "T31")
	const canary = "plaintext-canary-7f3a9c"
	f := newFixture(t, "CREATE TABLE secrets AS SELECT g, '"+canary+"' || g AS note, md5(g::text) AS filler FROM generate_series(1, 30000) g")
	recipient, _ := ageKey(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, tc := range []struct {
		name        string
		recipients  []string
		compression string
		wantFound   bool
	}{
		{"unencrypted (control)", nil, "none", true},
		{"age, uncompressed", []string{recipient}, "none", false},
		{"age, zstd", []string{recipient}, "zstd", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.config(strings.Replace(f.c.URL(f.db), f.c.Addr(), throttledAddr(t, f), 1))
			cfg.Dir = filepath.Join(t.TempDir(), "snapshots")
			cfg.TempDir = tmp
			cfg.Compression = tc.compression
			cfg.AgeRecipients = tc.recipients
			s := f.scheduler(t, cfg)
			done := make(chan error, 1)
			go func() {
				_, err := s.SnapshotNow(t.Context())
				done <- err
			}()
			found, scans := false, 0
			for waiting := true; waiting; {
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
					waiting = false
				default:
				}
				scans++
				time.Sleep(20 * time.Millisecond) // between scans, not a wait for a condition
				for _, dir := range []string{cfg.Dir, tmp} {
					if p := scanFor(t, dir, [][]byte{[]byte(canary), []byte("PGDMP")}); p != "" {
						found = true
					}
				}
			}
			if found != tc.wantFound {
				t.Errorf("plaintext found on disk = %v over %d scans, want %v", found, scans, tc.wantFound)
			}
		})
	}
}

// scanFor returns the first file under dir holding one of the needles.
func scanFor(t *testing.T, dir string, needles [][]byte) string {
	t.Helper()
	var hit string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || hit != "" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // renamed or removed meanwhile
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				hit = p
			}
		}
		return nil
	})
	return hit
}
