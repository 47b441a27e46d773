package localstore_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/store"
	"github.com/pgsnap/pgsnap/store/localstore"
	"github.com/pgsnap/pgsnap/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		// A directory that does not exist yet: Check must create it.
		return localstore.New(filepath.Join(t.TempDir(), "snapshots"))
	})
}

// TestModes changes the process umask, so it and its subtests must not run in parallel.
func TestModes(t *testing.T) {
	for _, umask := range []int{0o000, 0o077} {
		t.Run(fmt.Sprintf("umask %03o", umask), func(t *testing.T) {
			old := syscall.Umask(umask)
			defer syscall.Umask(old)
			base := t.TempDir()

			t.Run("created directories", func(t *testing.T) {
				dir := filepath.Join(base, "a", "b", "c")
				s := localstore.New(dir)
				checkStore(t, s)
				for _, p := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b"), dir} {
					assertMode(t, p, 0o700)
				}
				assertObjectModes(t, s)
			})
			t.Run("existing directory", func(t *testing.T) {
				dir := filepath.Join(base, "existing")
				if err := os.Mkdir(dir, 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, 0o750); err != nil {
					t.Fatal(err)
				}
				s := localstore.New(dir)
				checkStore(t, s)
				assertMode(t, dir, 0o750)
				assertObjectModes(t, s)
				assertMode(t, dir, 0o750)
			})
		})
	}
}

// assertObjectModes checks that both the temporary file of an open writer and the committed
// object are 0600.
func assertObjectModes(t *testing.T, s *localstore.Store) {
	t.Helper()
	w, err := s.Create(t.Context(), "obj")
	if err != nil {
		t.Fatalf("Create(obj) = %v, want nil", err)
	}
	defer w.Abort()
	temps := tempFiles(t, s.Dir())
	if len(temps) != 1 {
		t.Fatalf("temporary files while writing = %q, want one", temps)
	}
	assertMode(t, filepath.Join(s.Dir(), temps[0]), 0o600)
	if _, err := w.Write([]byte("data")); err != nil {
		t.Fatalf("Write() = %v, want nil", err)
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit(obj) = %v, want nil", err)
	}
	p, err := s.Path("obj")
	if err != nil {
		t.Fatalf("Path(obj) = %v, want nil", err)
	}
	assertMode(t, p, 0o600)
}

func TestCheck(t *testing.T) {
	t.Run("fresh directory left empty", func(t *testing.T) {
		s := localstore.New(t.TempDir())
		checkStore(t, s)
		assertDirEntries(t, s.Dir(), nil)
	})
	t.Run("missing parent", func(t *testing.T) {
		parent := filepath.Join(t.TempDir(), "parent")
		s := localstore.New(filepath.Join(parent, "snapshots"))
		checkStore(t, s)
		assertMode(t, parent, 0o700)
		assertMode(t, s.Dir(), 0o700)
	})
	t.Run("regular file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "file")
		writeFile(t, p, "not a directory")
		err := localstore.New(p).Check(t.Context())
		if err == nil || !strings.Contains(err.Error(), "is not a directory") || !strings.Contains(err.Error(), p) {
			t.Errorf("Check(%s) = %v, want error naming the path and \"is not a directory\"", p, err)
		}
	})
	t.Run("regular file as parent", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "file")
		writeFile(t, p, "not a directory")
		dir := filepath.Join(p, "snapshots")
		err := localstore.New(dir).Check(t.Context())
		if err == nil || !strings.Contains(err.Error(), "not a directory") || !strings.Contains(err.Error(), p) {
			t.Errorf("Check(%s) = %v, want error naming %s and \"not a directory\"", dir, err, p)
		}
	})
}

func TestCreateMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	w, err := localstore.New(dir).Create(t.Context(), "obj")
	if err == nil {
		_ = w.Abort()
		t.Fatalf("Create(obj) in missing %s = nil error, want error", dir)
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "store directory "+dir+": no such file or directory") {
		t.Errorf("Create(obj) in missing %s = %v, want ErrNotExist naming the directory", dir, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%s) after Create = %v, want ErrNotExist (Create must not create it)", dir, err)
	}
}

func TestNewRelative(t *testing.T) {
	s := localstore.New("rel/../snaps")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Dir(), filepath.Join(wd, "snaps"); got != want {
		t.Errorf("New(rel/../snaps).Dir() = %q, want %q", got, want)
	}
	if got, want := s.String(), "local:"+filepath.Join(wd, "snaps"); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestPath(t *testing.T) {
	s := localstore.New(t.TempDir())
	checkStore(t, s)
	put(t, s, "snap.dump", "data")
	if err := os.Mkdir(filepath.Join(s.Dir(), "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key      string
		want     string
		notFound bool
	}{
		{key: "snap.dump", want: filepath.Join(s.Dir(), "snap.dump")},
		{key: "absent", notFound: true},
		{key: "subdir", notFound: true},
		{key: "../snap.dump"},
		{key: "a/b"},
		{key: ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := s.Path(tt.key)
			switch {
			case tt.want != "":
				if got != tt.want || err != nil {
					t.Errorf("Path(%q) = %q, %v, want %q, nil", tt.key, got, err, tt.want)
				}
			case tt.notFound:
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Path(%q) = %q, %v, want ErrNotFound", tt.key, got, err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), "invalid key") {
					t.Errorf("Path(%q) = %q, %v, want invalid key error", tt.key, got, err)
				}
			}
		})
	}
}

// TestListFiltering checks which files count as objects: regular files with valid key names,
// whoever wrote them. Directories, symlinks, hidden and oddly named files are not objects, and
// Delete leaves them alone.
func TestListFiltering(t *testing.T) {
	s := localstore.New(t.TempDir())
	checkStore(t, s)
	dir := s.Dir()
	put(t, s, "snap.dump", "data")
	writeFile(t, filepath.Join(dir, "notes.txt"), "foreign")
	writeFile(t, filepath.Join(dir, ".hidden"), "hidden")
	writeFile(t, filepath.Join(dir, "has space"), "odd")
	writeFile(t, filepath.Join(dir, ".pgsnap-tmp.x.0"), "temp")
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("snap.dump", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(t.Context())
	if err != nil {
		t.Fatalf("List() = %v, want nil", err)
	}
	var got []string
	for _, info := range list {
		got = append(got, info.Key)
	}
	if diff := cmp.Diff([]string{"notes.txt", "snap.dump"}, got); diff != "" {
		t.Errorf("List() keys mismatch (-want +got):\n%s", diff)
	}
	for _, key := range []string{"subdir", "link"} {
		if _, err := s.Stat(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Stat(%s) = %v, want ErrNotFound", key, err)
		}
		if _, err := s.Open(t.Context(), key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Open(%s) = %v, want ErrNotFound", key, err)
		}
		if err := s.Delete(t.Context(), key); err != nil {
			t.Errorf("Delete(%s) = %v, want nil", key, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, key)); err != nil {
			t.Errorf("Lstat(%s) after Delete = %v, want it left alone", key, err)
		}
	}
}

func checkStore(t *testing.T, s *localstore.Store) {
	t.Helper()
	if err := s.Check(t.Context()); err != nil {
		t.Fatalf("Check() = %v, want nil", err)
	}
}

func put(t *testing.T, s *localstore.Store, key, data string) {
	t.Helper()
	w, err := s.Create(t.Context(), key)
	if err != nil {
		t.Fatalf("Create(%s) = %v, want nil", key, err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatalf("Write() = %v, want nil", err)
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit(%s) = %v, want nil", key, err)
	}
}

func assertContent(t *testing.T, s *localstore.Store, key string, want []byte) {
	t.Helper()
	p, err := s.Path(key)
	if err != nil {
		t.Fatalf("Path(%s) = %v, want nil", key, err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("content of %s = %d bytes, want %d bytes (byte-identical)", key, len(got), len(want))
	}
}

func assertMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %04o, want %04o", p, got, want)
	}
}

func assertDirEntries(t *testing.T, dir string, want []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries of %s mismatch (-want +got):\n%s", dir, diff)
	}
}

// tempFiles returns the names of the temporary files in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, ".pgsnap-tmp.*"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range matches {
		names = append(names, filepath.Base(m))
	}
	return names
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
