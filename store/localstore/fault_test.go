package localstore_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pgsnap/pgsnap/store/localstore"
)

// mountTmpfs mounts a fresh tmpfs with the given flags and options and unmounts it at cleanup.
// Mounting needs root (CAP_SYS_ADMIN); without it the test is skipped.
func mountTmpfs(t *testing.T, flags uintptr, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags, opts); err != nil {
		t.Skipf("mount tmpfs on %s: %v (no CAP_SYS_ADMIN?)", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func freeBytes(t *testing.T, dir string) uint64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bfree * uint64(st.Bsize)
}

// TestDiskFull fills a 1 MiB tmpfs: the write fails naming the device error and the path, the
// temporary file goes (its space with it), and an object committed before stays byte-identical.
func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, 0, "size=1m,mode=0700")
	s := localstore.New(dir)
	checkStore(t, s)
	before := make([]byte, 200<<10)
	_, _ = rand.Read(before)
	put(t, s, "old", string(before))
	free := freeBytes(t, dir)

	w, err := s.Create(t.Context(), "big")
	if err != nil {
		t.Fatalf("Create(big) = %v, want nil", err)
	}
	chunk := bytes.Repeat([]byte("y"), 64<<10)
	var werr error
	for written := 0; written < 2<<20 && werr == nil; written += len(chunk) {
		_, werr = w.Write(chunk)
	}
	if werr == nil {
		werr = w.Commit(t.Context())
	}
	if werr == nil {
		t.Fatalf("writing 2 MiB to a 1 MiB tmpfs succeeded, want an error")
	}
	if !errors.Is(werr, syscall.ENOSPC) || !strings.Contains(werr.Error(), "no space left on device") ||
		!strings.Contains(werr.Error(), dir) {
		t.Errorf("write error = %v, want ENOSPC naming %s", werr, dir)
	}
	if err := w.Commit(t.Context()); err == nil {
		t.Errorf("Commit() after a failed write = nil, want error")
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort() after a failed write = %v, want nil", err)
	}
	assertDirEntries(t, dir, []string{"old"})
	assertContent(t, s, "old", before)
	if got := freeBytes(t, dir); got != free {
		t.Errorf("free bytes after the failure = %d, want %d as before", got, free)
	}
	// With room again, the next object commits.
	put(t, s, "next", "small")
	assertDirEntries(t, dir, []string{"next", "old"})
}

// TestCheckReadOnly checks that a read-only file system fails Check, naming the path.
func TestCheckReadOnly(t *testing.T) {
	dir := mountTmpfs(t, unix.MS_RDONLY, "size=1m")
	err := localstore.New(dir).Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "read-only file system") || !strings.Contains(err.Error(), dir) ||
		!strings.Contains(err.Error(), "uid 0 gid 0") {
		t.Errorf("Check(%s) on a read-only tmpfs = %v, want error naming the path, the cause and uid 0 gid 0", dir, err)
	}
}

// TestCheckUnprivileged runs Check as nobody (65534) in a re-executed test binary against
// root-owned 0755 directories. Root ignores mode bits, hence the child process.
func TestCheckUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching to uid 65534 needs root")
	}
	// The child must be able to execute the test binary; go test keeps it in a private directory.
	shared, err := os.MkdirTemp("", "pgsnap-localstore-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(shared) })
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(shared, "localstore.test")
	copyExecutable(t, bin)
	existing := filepath.Join(shared, "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(existing, 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, dir, want string
	}{
		{"root-owned directory", existing, "create " + existing + "/.pgsnap-tmp.probe."},
		{"root-owned parent", filepath.Join(existing, "snapshots"), "mkdir " + filepath.Join(existing, "snapshots")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Dir = shared
			cmd.Env = append(os.Environ(), helperEnv+"=check", helperDirEnv+"="+tt.dir)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("helper as uid 65534: %v; stderr:\n%s", err, stderr.String())
			}
			got := strings.TrimSpace(string(out))
			for _, want := range []string{tt.want, "permission denied", "(running as uid 65534 gid 65534)"} {
				if !strings.Contains(got, want) {
					t.Errorf("Check(%s) as nobody = %q, want it to contain %q", tt.dir, got, want)
				}
			}
			assertDirEntries(t, existing, nil)
		})
	}
}

func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		_ = out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, 0o755); err != nil {
		t.Fatal(err)
	}
}
