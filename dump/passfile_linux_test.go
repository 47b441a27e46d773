package dump

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPassfileMemfd(t *testing.T) {
	t.Parallel()
	pf, err := newPassfile(`p:w\`, true)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.close()
	if diff := cmp.Diff([]string{"PGPASSFILE=/dev/fd/3"}, pf.env); diff != "" {
		t.Errorf("memfd passfile env mismatch (-want +got):\n%s", diff)
	}
	if len(pf.files) != 1 {
		t.Fatalf("memfd passfile has %d files, want 1", len(pf.files))
	}
	fi, err := pf.files[0].Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("memfd mode = %v, want -rw-------", fi.Mode())
	}
	// Opening the /proc link gives a fresh offset, as libpq's open of /dev/fd/3 does.
	content, err := os.ReadFile(filepath.Join("/proc/self/fd", strconv.Itoa(int(pf.files[0].Fd()))))
	if err != nil {
		t.Fatal(err)
	}
	if string(content) != passfileLine(`p:w\`) {
		t.Errorf("memfd content = %q, want %q", content, passfileLine(`p:w\`))
	}
}
