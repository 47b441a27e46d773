package catalog

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pgsnap/pgsnap/internal/codec"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func sampleSnapshot() Snapshot {
	slot := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	return Snapshot{
		ManifestVersion: ManifestVersion,
		Name:            "app-20261124T030000Z",
		Target:          "app",
		Database:        "app",
		Slot:            &slot,
		StartedAt:       slot.Add(2 * time.Second),
		FinishedAt:      slot.Add(95 * time.Second),
		Data:            "app-20261124T030000Z.dump",
		Size:            123456,
		SHA256:          strings.Repeat("ab", 32),
		Format:          FormatCustom,
		Compression:     codec.PGDump,
		PGDumpVersion:   "15.18",
		ServerVersion:   "15.18",
		Labels:          map[string]string{"app": "api"},
		Host:            "db-backup-1",
		PgsnapVersion:   "v0.1.0",
	}
}

func TestManifestGolden(t *testing.T) {
	got, err := encodeManifest(sampleSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "manifest.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("manifest JSON changed (-want +got); field names are a public interface:\n%s", diff)
	}
	back, err := decodeManifest("app-20261124T030000Z.json", got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sampleSnapshot(), back, cmpopts.IgnoreUnexported(Snapshot{})); diff != "" {
		t.Errorf("decode(encode(s)) (-want +got):\n%s", diff)
	}
}

func TestDecodeManifestRejects(t *testing.T) {
	good, err := encodeManifest(sampleSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(*Snapshot)) []byte {
		s := sampleSnapshot()
		f(&s)
		b, err := encodeManifest(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := map[string][]byte{
		"truncated":      good[:len(good)/2],
		"empty":          nil,
		"not json":       []byte("hello"),
		"newer version":  edit(func(s *Snapshot) { s.ManifestVersion = 99 }),
		"no version":     edit(func(s *Snapshot) { s.ManifestVersion = 0 }),
		"other name":     edit(func(s *Snapshot) { s.Name = "app-20261125T030000Z" }),
		"bad hash":       edit(func(s *Snapshot) { s.SHA256 = "abc" }),
		"zero size":      edit(func(s *Snapshot) { s.Size = 0 }),
		"data traversal": edit(func(s *Snapshot) { s.Data = "../etc/passwd" }),
		"unknown format": edit(func(s *Snapshot) { s.Format = "tar" }),
		"no start":       edit(func(s *Snapshot) { s.StartedAt = time.Time{} }),
		"encrypted":      edit(func(s *Snapshot) { s.Encrypted = true }),
		"missing target": edit(func(s *Snapshot) { s.Target = "" }),
	}
	for name, b := range tests {
		if _, err := decodeManifest("app-20261124T030000Z.json", b); err == nil {
			t.Errorf("%s: decodeManifest = nil error, want an error", name)
		}
	}
	// Fields added by a newer pgsnap are accepted.
	extra := strings.Replace(string(good), "{", `{"added_later": 1,`, 1)
	if _, err := decodeManifest("app-20261124T030000Z.json", []byte(extra)); err != nil {
		t.Errorf("decodeManifest with an unknown field = %v, want nil", err)
	}
}

func FuzzDecodeManifest(f *testing.F) {
	good, _ := encodeManifest(sampleSnapshot())
	f.Add(good)
	f.Add([]byte(`{"manifest_version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeManifest("app-20261124T030000Z.json", b)
		if err != nil {
			return
		}
		again, err := encodeManifest(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeManifest("app-20261124T030000Z.json", again); err != nil {
			t.Errorf("re-encoded manifest does not decode: %v", err)
		}
	})
}
