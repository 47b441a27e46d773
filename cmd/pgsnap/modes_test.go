package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// umaskCmd prepares pgsnap started by sh after `umask mask`, as a service manager or a shell
// with an unusual umask would start it (the Go test process's own umask stays untouched).
func umaskCmd(mask string, env map[string]string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command("sh", append([]string{"-c", `umask ` + mask + `; exec "$0" "$@"`, pgsnapBin}, args...)...)
	cmd.Env = envList(env)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
	return cmd, &stderr
}

// passfileMode finds the pg_dump that process pid started, looks up the PGPASSFILE in its
// environment and returns that file's mode and, when it is a file on disk, its directory's
// (0 for a memfd on /dev/fd, which has no directory of its own). ok is false when no pg_dump
// was seen.
func passfileMode(pid int) (file, dir fs.FileMode, where string, ok bool) {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open || s[open+1:close] != "pg_dump" {
			continue
		}
		if f := strings.Fields(s[close+1:]); len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		child := filepath.Dir(p)
		env, err := os.ReadFile(filepath.Join(child, "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			path, found := strings.CutPrefix(kv, "PGPASSFILE=")
			if !found {
				continue
			}
			if fd, isFD := strings.CutPrefix(path, "/dev/fd/"); isFD {
				st, err := os.Stat(filepath.Join(child, "fd", fd))
				if err != nil {
					continue
				}
				target, _ := os.Readlink(filepath.Join(child, "fd", fd))
				return st.Mode().Perm(), 0, target, true
			}
			st, err := os.Stat(path)
			if err != nil {
				continue
			}
			dst, err := os.Stat(filepath.Dir(path))
			if err != nil {
				continue
			}
			return st.Mode().Perm(), dst.Mode().Perm(), path, true
		}
	}
	return 0, 0, "", false
}

// T16 and INV-9: under umask 000 and 077, with SNAPSHOT_DIR absent (two levels to create) and
// pre-existing at 0750, every file pgsnap writes in the store (data, manifest, the verify
// record, the pin) is 0600, every directory it creates is 0700, the existing directory keeps
// its mode, and the PGPASSFILE pg_dump reads is 0600 (0700 directory when it is a file).
// pg_dump's output is throttled so it runs long enough for its passfile to be looked at.
func TestModesUnderUmask(t *testing.T) {
	invariants.Fault(t, "T16")
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 20000) g"); err != nil {
		t.Fatal(err)
	}
	slowURL := strings.Replace(c.URL(db), c.Addr(), pgtest.Throttle(t, c.Addr(), 1<<20), 1)
	violations, files, passfiles := 0, 0, 0
	violation := func(t *testing.T, format string, args ...any) {
		t.Helper()
		violations++
		t.Errorf(format, args...)
	}
	for _, mask := range []string{"000", "077"} {
		for _, existing := range []bool{false, true} {
			name := fmt.Sprintf("umask %s/dir absent", mask)
			if existing {
				name = fmt.Sprintf("umask %s/dir 0750", mask)
			}
			t.Run(name, func(t *testing.T) {
				base := t.TempDir()
				dir := filepath.Join(base, "new", "snapshots")
				created := []string{filepath.Dir(dir), dir}
				if existing {
					dir, created = filepath.Join(base, "snapshots"), nil
					if err := os.Mkdir(dir, 0o750); err != nil {
						t.Fatal(err)
					}
					if err := os.Chmod(dir, 0o750); err != nil {
						t.Fatal(err)
					}
				}
				tmp := t.TempDir()
				env := map[string]string{"DATABASE_URL": slowURL, "SNAPSHOT_DIR": dir, "TMPDIR": tmp}
				cmd, stderr := umaskCmd(mask, env, "snapshot")
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				seen := false
			watch:
				for !seen {
					select {
					case <-exited:
						break watch
					case <-time.After(5 * time.Millisecond):
					}
					var fileMode, dirMode fs.FileMode
					var where string
					if fileMode, dirMode, where, seen = passfileMode(cmd.Process.Pid); seen {
						passfiles++
						t.Logf("pg_dump's PGPASSFILE: %s, mode %o", where, fileMode)
						if fileMode != 0o600 || (dirMode != 0 && dirMode != 0o700) {
							violation(t, "PGPASSFILE %s of pg_dump has mode %o (directory %o), want 600 (700)", where, fileMode, dirMode)
						}
						<-exited
					}
				}
				if !seen {
					t.Errorf("never saw pg_dump's PGPASSFILE while pgsnap ran")
				}
				if code := cmd.ProcessState.ExitCode(); code != 0 {
					t.Fatalf("snapshot under umask %s: exit %d\n%s", mask, code, stderr)
				}
				snaps := listJSON(t, env)
				if len(snaps) != 1 {
					t.Fatalf("listed %d snapshots, want 1", len(snaps))
				}
				for _, args := range [][]string{{"verify", "--all"}, {"pin", snaps[0].Name}} {
					cmd, stderr := umaskCmd(mask, env, args...)
					if err := cmd.Run(); err != nil {
						t.Fatalf("%v under umask %s: %v\n%s", args, mask, err, stderr)
					}
				}
				entries, err := os.ReadDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				var kinds []string
				for _, e := range entries {
					info, err := e.Info()
					if err != nil {
						t.Fatal(err)
					}
					files++
					kinds = append(kinds, e.Name())
					if !info.Mode().IsRegular() || info.Mode().Perm() != 0o600 {
						violation(t, "%s in the store has mode %v, want a regular file -rw-------", e.Name(), info.Mode())
					}
				}
				for _, want := range []string{snaps[0].Name + ".json", snaps[0].Data, snaps[0].Name + ".check.json", snaps[0].Name + ".pin"} {
					if !strings.Contains(strings.Join(kinds, "\n")+"\n", want+"\n") {
						t.Errorf("store holds %v, want %s among them", kinds, want)
					}
				}
				for _, d := range created {
					if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o700 {
						violation(t, "directory %s that pgsnap created: %v, want mode 700", d, modeOrErr(st, err))
					}
				}
				if existing {
					if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o750 {
						violation(t, "existing SNAPSHOT_DIR %s: %v, want its mode 750 unchanged", dir, modeOrErr(st, err))
					}
				}
				if left, _ := os.ReadDir(tmp); len(left) != 0 {
					t.Errorf("TMPDIR holds %d entries after the runs, want none", len(left))
				}
				invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, Database: db, DirCreated: !existing, MinComplete: 1})
			})
		}
	}
	invariants.Report(t, "T16 modes: mode violations %d (4 umask/dir cases, %d store files checked, created dirs 0700, existing 0750 kept, passfiles %d/4 0600)",
		violations, files, passfiles)
}

func modeOrErr(st fs.FileInfo, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("mode %o", st.Mode().Perm())
}
