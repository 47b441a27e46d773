package localstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// The link fallback runs only on file systems without RENAME_NOREPLACE, which a test machine
// cannot be asked to provide, so it is tested directly. renameNoReplace is tested alongside:
// both must refuse to replace and leave the existing file alone.
func TestNoReplace(t *testing.T) {
	funcs := []struct {
		name string
		fn   func(tmp, final string) error
	}{
		{"renameNoReplace", renameNoReplace},
		{"linkNoReplace", linkNoReplace},
	}
	for _, f := range funcs {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tmp, final := filepath.Join(dir, ".pgsnap-tmp.k.1"), filepath.Join(dir, "k")
			writeTestFile(t, tmp, "first")
			if err := f.fn(tmp, final); err != nil {
				t.Fatalf("%s(new key) = %v, want nil", f.name, err)
			}
			assertFile(t, final, "first")
			if _, err := os.Lstat(tmp); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Lstat(temporary) after %s = %v, want ErrNotExist", f.name, err)
			}

			writeTestFile(t, tmp, "second")
			if err := f.fn(tmp, final); !errors.Is(err, fs.ErrExist) {
				t.Errorf("%s(existing key) = %v, want ErrExist", f.name, err)
			}
			assertFile(t, final, "first")
			assertFile(t, tmp, "second") // the caller removes it
		})
	}
}

func writeTestFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func assertFile(t *testing.T, p, want string) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("content of %s = %q, want %q", p, got, want)
	}
}
