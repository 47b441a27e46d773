package localstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/store/localstore"
)

// Environment of a re-executed test binary acting as a helper process (see TestMain).
const (
	helperEnv    = "PGSNAP_LOCALSTORE_HELPER"
	helperDirEnv = "PGSNAP_LOCALSTORE_HELPER_DIR"
)

// TestMain lets the test binary double as a helper process: a writer to be killed, or a Check
// run under another uid.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helperMain(mode, os.Getenv(helperDirEnv))
		return
	}
	m.Run()
}

// helperMain reports on stdout, one line: "ready" (writer, then it blocks until stdin closes),
// "ok" or "error: <message>".
func helperMain(mode, dir string) {
	ctx := context.Background()
	s := localstore.New(dir)
	switch mode {
	case "writer":
		w, err := s.Create(ctx, "crashed")
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		// More than the write buffer, so bytes reach the file before the kill.
		if _, err := w.Write(bytes.Repeat([]byte("x"), 3<<20)); err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = w.Abort()
	case "check":
		if err := s.Check(ctx); err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println("ok")
	default:
		fmt.Println("error: unknown helper mode", mode)
	}
}

func TestSweep(t *testing.T) {
	s := localstore.New(t.TempDir())
	checkStore(t, s)
	dir := s.Dir()
	old := time.Now().Add(-2 * time.Minute)
	age := func(name string) {
		t.Helper()
		if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}

	writeFile(t, filepath.Join(dir, ".pgsnap-tmp.stale.0001"), "left by a crash")
	age(".pgsnap-tmp.stale.0001")
	// Unlocked and young: a writer between creating the file and locking it would find it gone
	// and start over (TestFailpointSweptBeforeLock), so no age protects it.
	writeFile(t, filepath.Join(dir, ".pgsnap-tmp.young.0002"), "just created")
	// Foreign files, old enough to be swept if Sweep looked at them.
	for _, name := range []string{"notes.txt", ".hidden", ".pgsnap-tmpx"} {
		writeFile(t, filepath.Join(dir, name), "foreign")
		age(name)
	}
	if err := os.Mkdir(filepath.Join(dir, ".pgsnap-tmp.dir.0003"), 0o700); err != nil {
		t.Fatal(err)
	}
	age(".pgsnap-tmp.dir.0003")
	if err := os.Symlink("notes.txt", filepath.Join(dir, ".pgsnap-tmp.link.0004")); err != nil {
		t.Fatal(err)
	}
	put(t, s, "kept", "committed")
	age("kept")

	// A live writer whose file looks old: its lock alone must protect it.
	w, err := s.Create(t.Context(), "live")
	if err != nil {
		t.Fatalf("Create(live) = %v, want nil", err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("in progress")); err != nil {
		t.Fatal(err)
	}
	var liveTemp string
	for _, name := range tempFiles(t, dir) {
		if strings.HasPrefix(name, ".pgsnap-tmp.live.") {
			liveTemp = name
		}
	}
	if liveTemp == "" {
		t.Fatalf("no temporary file for the live writer in %q", tempFiles(t, dir))
	}
	age(liveTemp)

	removed, err := s.Sweep(t.Context())
	if err != nil {
		t.Fatalf("Sweep() = %v, want nil", err)
	}
	if diff := cmp.Diff([]string{".pgsnap-tmp.stale.0001", ".pgsnap-tmp.young.0002"}, removed); diff != "" {
		t.Errorf("Sweep() removed mismatch (-want +got):\n%s", diff)
	}
	assertDirEntries(t, dir, []string{
		".hidden", ".pgsnap-tmp.dir.0003", ".pgsnap-tmp.link.0004", liveTemp,
		".pgsnap-tmpx", "kept", "notes.txt",
	})

	if err := w.Commit(t.Context()); err != nil {
		t.Fatalf("Commit(live) after Sweep = %v, want nil", err)
	}
	assertContent(t, s, "live", []byte("in progress"))
	assertContent(t, s, "kept", []byte("committed"))
}

// TestSweepAfterCrash kills a writer process with SIGKILL, as the OOM killer would, and checks
// that its temporary file survives Sweep while the process lives and is swept once it is dead.
func TestSweepAfterCrash(t *testing.T) {
	s := localstore.New(t.TempDir())
	checkStore(t, s)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=writer", helperDirEnv+"="+s.Dir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("writer process said %q (%v), want ready; stderr:\n%s", line, err, stderr.String())
	}

	temps := tempFiles(t, s.Dir())
	if len(temps) != 1 || !strings.HasPrefix(temps[0], ".pgsnap-tmp.crashed.") {
		t.Fatalf("temporary files = %q, want one for key crashed", temps)
	}
	if removed, err := s.Sweep(t.Context()); err != nil || len(removed) != 0 {
		t.Fatalf("Sweep() with the writer alive = %q, %v, want nothing removed, nil", removed, err)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	var exitErr *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &exitErr) || exitErr.ExitCode() != -1 {
		t.Fatalf("writer process ended with %v, want killed by a signal", err)
	}
	removed, err := s.Sweep(t.Context())
	if err != nil {
		t.Fatalf("Sweep() after the kill = %v, want nil", err)
	}
	if diff := cmp.Diff(temps, removed); diff != "" {
		t.Errorf("Sweep() after the kill removed mismatch (-want +got):\n%s", diff)
	}
	assertDirEntries(t, s.Dir(), nil)
}
