package pgtest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStartMajor starts a server of each major that FetchMajorsScript provides, and of the
// installed one, and checks the server itself reports the major the cluster claims.
func TestStartMajor(t *testing.T) {
	installed := Get(t).Version
	for _, major := range []int{13, 14, 17, installed} {
		t.Run(strconv.Itoa(major), func(t *testing.T) {
			c := StartMajor(t, major)
			if c.Version != major {
				t.Errorf("StartMajor(%d).Version = %d, want %d", major, c.Version, major)
			}
			var got int
			conn, err := c.Connect(t.Context(), "postgres")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(t.Context())
			if err := conn.QueryRow(t.Context(), "SELECT current_setting('server_version_num')::int / 10000").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != major {
				t.Errorf("server_version_num major of StartMajor(%d) = %d, want %d", major, got, major)
			}
			if major == installed && c.BinDir != Get(t).BinDir {
				t.Errorf("StartMajor(%d).BinDir = %s, want the installed %s", major, c.BinDir, Get(t).BinDir)
			}
			// The cluster must survive a restart, which runs pg_ctl with the same environment.
			if err := c.StopServer("fast"); err != nil {
				t.Fatal(err)
			}
			if err := c.StartServer(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStartMajorMissing checks that a major found nowhere is ErrNoPostgres (so tests skip, or
// fail in CI) and that the error says how to fetch it.
func TestStartMajorMissing(t *testing.T) {
	t.Setenv("PGTEST_MAJORS_DIR", t.TempDir())
	const major = 12 // not shipped by the distribution this runs on, not in the empty cache
	if _, err := os.Stat("/usr/lib/postgresql/12/bin/postgres"); err == nil {
		t.Skip("PostgreSQL 12 is installed")
	}
	c, err := Start(t.Context(), Options{Major: major})
	if err == nil {
		c.Stop()
		t.Fatalf("Start(Major: %d) with an empty majors directory = %v, want an error", major, c)
	}
	if !errors.Is(err, ErrNoPostgres) {
		t.Errorf("Start(Major: %d) = %v, want it to wrap ErrNoPostgres", major, err)
	}
	for _, want := range []string{"PostgreSQL 12", FetchMajorsScript, os.Getenv("PGTEST_MAJORS_DIR")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start(Major: %d) = %v, want it to name %q", major, err, want)
		}
	}
}

// TestStartMajorWrongBinDir checks that an explicit BinDir of another major is refused.
func TestStartMajorWrongBinDir(t *testing.T) {
	c := Get(t)
	_, err := Start(t.Context(), Options{BinDir: c.BinDir, Major: c.Version + 1})
	if err == nil || errors.Is(err, ErrNoPostgres) || !strings.Contains(err.Error(), "want") {
		t.Errorf("Start(BinDir: %s, Major: %d) = %v, want a major mismatch error", c.BinDir, c.Version+1, err)
	}
}

func TestMajorsDir(t *testing.T) {
	t.Setenv("PGTEST_MAJORS_DIR", "/x/majors")
	if got, err := MajorsDir(); err != nil || got != "/x/majors" {
		t.Errorf("MajorsDir() with PGTEST_MAJORS_DIR = %q, %v, want /x/majors", got, err)
	}
	t.Setenv("PGTEST_MAJORS_DIR", "")
	t.Setenv("HOME", "/home/dev")
	if got, err := MajorsDir(); err != nil || got != "/home/dev/.cache/pgsnap/pg-majors" {
		t.Errorf("MajorsDir() with HOME=/home/dev = %q, %v, want /home/dev/.cache/pgsnap/pg-majors", got, err)
	}
}

func TestParseMajor(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      int
	}{
		{"unpacked", "postgres (PostgreSQL) 13.23\n", 13},
		{"debian", "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n", 15},
		{"beta", "postgres (PostgreSQL) 18beta1\n", 18},
		{"old scheme", "postgres (PostgreSQL) 9.6.24\n", 9},
		{"garbage", "bash: postgres: not found", 0},
		{"no number", "postgres (PostgreSQL) devel", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMajor(tc.out)
			if tc.want == 0 {
				if err == nil {
					t.Errorf("parseMajor(%q) = %d, want an error", tc.out, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("parseMajor(%q) = %d, %v, want %d", tc.out, got, err, tc.want)
			}
		})
	}
}

func TestLibEnv(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    []string
		libDir string
		want   []string
	}{
		{"none", []string{"A=1"}, "", []string{"A=1"}},
		{"added", []string{"A=1"}, "/p/lib", []string{"A=1", "LD_LIBRARY_PATH=/p/lib"}},
		{"prepended", []string{"LD_LIBRARY_PATH=/old", "A=1"}, "/p/lib", []string{"A=1", "LD_LIBRARY_PATH=/p/lib:/old"}},
		{"empty old", []string{"LD_LIBRARY_PATH="}, "/p/lib", []string{"LD_LIBRARY_PATH=/p/lib"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, libEnv(tc.env, tc.libDir)); diff != "" {
				t.Errorf("libEnv(%q, %q) mismatch (-want +got):\n%s", tc.env, tc.libDir, diff)
			}
		})
	}
}

// TestLinkTree checks the copy made for a server user who cannot reach the cache: same files,
// same modes, symbolic links kept as links.
func TestLinkTree(t *testing.T) {
	src := filepath.Join(t.TempDir(), "13")
	for _, dir := range []string{"bin", "lib/postgresql", "share"} {
		if err := os.MkdirAll(filepath.Join(src, dir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]os.FileMode{"bin/postgres": 0o755, "lib/libpq.so.5.13": 0o644, "lib/postgresql/plpgsql.so": 0o644, "share/postgres.bki": 0o644}
	for name, mode := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(name), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(src, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("libpq.so.5.13", filepath.Join(src, "lib/libpq.so.5")); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(t.TempDir(), "pg")
	if err := linkTree(src, dst); err != nil {
		t.Fatalf("linkTree = %v, want nil", err)
	}
	for name, mode := range files {
		b, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(b) != name {
			t.Errorf("copied %s = %q, %v, want %q", name, b, err, name)
		}
		if got := perm(t, filepath.Join(dst, name)); got != mode {
			t.Errorf("mode of copied %s = %v, want %v", name, got, mode)
		}
	}
	if got, err := os.Readlink(filepath.Join(dst, "lib/libpq.so.5")); err != nil || got != "libpq.so.5.13" {
		t.Errorf("copied symlink lib/libpq.so.5 -> %q, %v, want libpq.so.5.13", got, err)
	}
	for _, dir := range []string{"", "bin", "lib", "lib/postgresql", "share"} {
		if got := perm(t, filepath.Join(dst, dir)); got != 0o755 {
			t.Errorf("mode of copied directory %q = %v, want %v", dir, got, os.FileMode(0o755))
		}
	}
	if err := linkTree(src, dst); err == nil {
		t.Error("linkTree onto an existing directory = nil, want an error")
	}
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
