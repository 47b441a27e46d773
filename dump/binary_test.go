package dump

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// standIn writes a program that prints version, as `<tool> --version` would. A stand-in is the
// only machine-local way to have an older (or newer) pg_dump than the installed one. Tests that
// write one are not parallel: a fork elsewhere while the file is open for writing would make
// its exec fail with ETXTBSY.
func standIn(t *testing.T, dir, tool, output string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, tool)
	script := "#!/bin/sh\necho '" + output + "'\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFindInstalled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tool := range []string{"pg_dump", "pg_restore", "pg_dumpall", "psql"} {
		b, err := Find(t.Context(), tool, e.server, "")
		if err != nil {
			t.Fatalf("Find(%s, %v) error: %v", tool, e.server, err)
		}
		if b.Tool != tool || filepath.Base(b.Path) != tool || b.Version.Major < e.server.Major {
			t.Errorf("Find(%s, %v) = %+v, want %s of major %d or newer", tool, e.server, b, tool, e.server.Major)
		}
	}
	if got := e.pgDump.Version.Major; got != e.c.Version {
		t.Errorf("pg_dump in the cluster's bin dir has major %d, want %d", got, e.c.Version)
	}
}

func TestFindBinDirMissing(t *testing.T) {
	t.Parallel()
	_, err := Find(t.Context(), "pg_dump", Version{Major: 15, Minor: 18}, "/nonexistent")
	if err == nil || !strings.Contains(err.Error(), "SNAPSHOT_PG_BIN_DIR") || !strings.Contains(err.Error(), "/nonexistent/pg_dump") {
		t.Errorf("Find with /nonexistent = %v, want an error naming SNAPSHOT_PG_BIN_DIR and /nonexistent/pg_dump", err)
	}
}

func TestFindBinDirTooOld(t *testing.T) {
	dir := t.TempDir()
	standIn(t, dir, "pg_dump", "pg_dump (PostgreSQL) 14.10")
	server := Version{Major: 15, Minor: 18, Raw: "15.18 (Debian 15.18-0+deb12u1)"}
	_, err := Find(t.Context(), "pg_dump", server, dir)
	var ve *VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("Find with a 14.10 pg_dump = %v, want *VersionError", err)
	}
	want := "pg_dump 14.10 at " + filepath.Join(dir, "pg_dump") + " is older than the server (15.18): " +
		"set SNAPSHOT_PG_BIN_DIR to the bin directory of PostgreSQL 15 or newer client tools"
	if err.Error() != want {
		t.Errorf("Find error = %q, want %q", err, want)
	}
}

// TestFindSearchOrder points find at a made-up /usr/lib/postgresql and PATH of stand-ins.
func TestFindSearchOrder(t *testing.T) {
	root := filepath.Join(t.TempDir(), "postgresql")
	for _, v := range []string{"14.10", "16.4", "17.2"} {
		major, _, _ := strings.Cut(v, ".")
		standIn(t, filepath.Join(root, major, "bin"), "pg_dump", "pg_dump (PostgreSQL) "+v)
	}
	pathDir := filepath.Join(t.TempDir(), "bin")
	standIn(t, pathDir, "pg_dump", "pg_dump (PostgreSQL) 15.3")
	emptyDir := t.TempDir()

	tests := []struct {
		name     string
		server   int
		pathList string
		want     string // version found, or "" for an error
		wantErr  string
	}{
		{"own major first", 14, pathDir, "14.10", ""},
		{"next newer major before PATH", 15, pathDir, "16.4", ""},
		{"PATH after the root", 17, pathDir, "17.2", ""},
		{"only older ones", 18, pathDir, "", "pg_dump 17.2 at " + filepath.Join(root, "17", "bin", "pg_dump") + " is older than the server (18.0)"},
		{"PATH when the root has none newer", 15, pathDir + ":" + emptyDir, "16.4", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := find(t.Context(), "pg_dump", Version{Major: tt.server}, "", root, tt.pathList)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("find(server %d) = %+v, %v; want error containing %q", tt.server, b, err, tt.wantErr)
				}
				return
			}
			if err != nil || b.Version.String() != tt.want {
				t.Fatalf("find(server %d) = %v %v, want %s", tt.server, b.Version, err, tt.want)
			}
		})
	}

	t.Run("PATH only", func(t *testing.T) {
		b, err := find(t.Context(), "pg_dump", Version{Major: 15}, "", emptyDir, pathDir)
		if err != nil || b.Path != filepath.Join(pathDir, "pg_dump") {
			t.Fatalf("find with PATH only = %+v, %v; want %s", b, err, filepath.Join(pathDir, "pg_dump"))
		}
	})
	t.Run("nowhere", func(t *testing.T) {
		_, err := find(t.Context(), "pg_restore", Version{Major: 15}, "", root, emptyDir)
		for _, want := range []string{filepath.Join(root, "15", "bin", "pg_restore"), filepath.Join(emptyDir, "pg_restore"), "SNAPSHOT_PG_BIN_DIR"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("find of a missing pg_restore = %v, want it to name %s", err, want)
			}
		}
	})
	t.Run("unknown tool", func(t *testing.T) {
		if _, err := find(t.Context(), "rm", Version{Major: 15}, "", root, pathDir); err == nil {
			t.Errorf("find(rm) succeeded, want an error")
		}
	})
	t.Run("broken binary is skipped", func(t *testing.T) {
		broken := filepath.Join(t.TempDir(), "bin")
		standIn(t, broken, "pg_dump", "no version here")
		b, err := find(t.Context(), "pg_dump", Version{Major: 15}, "", emptyDir, broken+":"+pathDir)
		if err != nil || b.Path != filepath.Join(pathDir, "pg_dump") {
			t.Fatalf("find past a broken pg_dump = %+v, %v; want %s", b, err, filepath.Join(pathDir, "pg_dump"))
		}
	})
}
