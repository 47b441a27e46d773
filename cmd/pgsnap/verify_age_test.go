package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// Item 12: on a host that holds only the public keys, verify passes an encrypted snapshot on
// its stored bytes' size and SHA-256 and says the content was not decrypted; it fails when those
// bytes are damaged, and --full (which must decrypt) fails naming the identity setting. With the
// identity, everything is checked.
func TestVerifyEncryptedWithoutIdentity(t *testing.T) {
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 20000) g"); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "age.key")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	r := runPgsnap(t, map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir,
		"SNAPSHOT_AGE_RECIPIENTS": id.Recipient().String()}, "snapshot")
	if r.code != 0 {
		t.Fatalf("encrypted snapshot: exit %d", r.code)
	}
	name := lastLine(r.stdout)
	publicOnly := map[string]string{"SNAPSHOT_DIR": dir}

	r = runPgsnap(t, publicOnly, "verify")
	if r.code != 0 || !strings.Contains(r.stdout, "ok      "+name+" (manifest,sha256): encrypted, content not decrypted") {
		t.Errorf("verify without identity: exit %d, stdout %q; want 0, ok on the stored bytes, not decrypted", r.code, r.stdout)
	}
	r = runPgsnap(t, publicOnly, "verify", "--json", name)
	var results []struct {
		OK     bool     `json:"ok"`
		Checks []string `json:"checks"`
		Note   string   `json:"note"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &results); err != nil || len(results) != 1 || !results[0].OK ||
		!strings.Contains(results[0].Note, "not decrypted") || strings.Join(results[0].Checks, ",") != "manifest,sha256" {
		t.Errorf("verify --json without identity = %+v (%v), want ok, checks manifest,sha256 and a note", results, err)
	}
	if r := runPgsnap(t, publicOnly, "verify", "--full", name); r.code != 1 || !strings.Contains(r.stdout, "SNAPSHOT_AGE_IDENTITY_FILE") {
		t.Errorf("verify --full without identity: exit %d, stdout %q; want 1 naming SNAPSHOT_AGE_IDENTITY_FILE", r.code, r.stdout)
	}
	withKey := map[string]string{"SNAPSHOT_DIR": dir, "SNAPSHOT_AGE_IDENTITY_FILE": keyFile}
	if r := runPgsnap(t, withKey, "verify", "--full", name); r.code != 0 || !strings.Contains(r.stdout, "(manifest,sha256,frames,toc,data,rows)\n") {
		t.Errorf("verify --full with the identity: exit %d, stdout %q", r.code, r.stdout)
	}

	// The stored bytes are really read: one flipped byte fails the check without the key.
	data := filepath.Join(dir, name+".dump.zst.age")
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(data, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r = runPgsnap(t, publicOnly, "verify", name)
	if r.code != 1 || !strings.Contains(r.stdout, "FAILED  "+name) {
		t.Errorf("verify of a damaged encrypted snapshot without identity: exit %d, stdout %q; want 1 and FAILED", r.code, r.stdout)
	}
	t.Logf("encrypted verify without identity: passes on sha256 (not decrypted); --full fails naming the identity; a flipped byte fails")
}
