package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FetchMajorsScript is the command, relative to the repository root, that downloads the server
// binaries of the majors the distribution does not ship into MajorsDir.
const FetchMajorsScript = "scripts/fetch-postgres-majors.sh"

// probeTimeout bounds one `postgres --version`.
const probeTimeout = 30 * time.Second

// MajorsDir returns where Start looks for server binaries of other majors, one directory per
// major holding bin, lib and share: $PGTEST_MAJORS_DIR, else $HOME/.cache/pgsnap/pg-majors
// (the default of FetchMajorsScript).
func MajorsDir() (string, error) {
	if dir := os.Getenv("PGTEST_MAJORS_DIR"); dir != "" {
		return dir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("majors directory: set PGTEST_MAJORS_DIR: %w", err)
	}
	return filepath.Join(home, ".cache", "pgsnap", "pg-majors"), nil
}

// majorBinaries says where the binaries of a requested major are.
type majorBinaries struct {
	binDir string
	// libDir is the shared library directory of an unpacked build ("" for an installed
	// server). Such builds find it through their RUNPATH ($ORIGIN/../lib); the servers also
	// get it in LD_LIBRARY_PATH, for builds without one.
	libDir string
	// cached is true for a build under MajorsDir, which may sit where the server user cannot
	// reach it.
	cached bool
}

// findMajor returns the binaries of PostgreSQL major. An explicit directory must hold that
// major. Otherwise it tries the installed server (as for Options.BinDir), then
// /usr/lib/postgresql/<major>/bin, then MajorsDir()/<major>/bin. None found wraps
// ErrNoPostgres with the command that fetches them.
func findMajor(ctx context.Context, explicit string, major int) (majorBinaries, error) {
	if explicit != "" {
		if err := checkBinDir(explicit); err != nil {
			return majorBinaries{}, err
		}
		return checkMajor(ctx, majorBinaries{binDir: explicit}, major)
	}
	var looked []string
	if dir, err := findBinDir(""); err == nil {
		b := majorBinaries{binDir: dir}
		if got, err := binaryMajor(ctx, b); err == nil && got == major {
			return b, nil
		} else if err == nil {
			looked = append(looked, fmt.Sprintf("%s (PostgreSQL %d)", dir, got))
		} else {
			looked = append(looked, fmt.Sprintf("%s (%v)", dir, err))
		}
	}
	debian := filepath.Join("/usr/lib/postgresql", strconv.Itoa(major), "bin")
	if checkBinDir(debian) == nil {
		return checkMajor(ctx, majorBinaries{binDir: debian}, major)
	}
	looked = append(looked, debian)
	root, err := MajorsDir()
	if err != nil {
		return majorBinaries{}, fmt.Errorf("%w for PostgreSQL %d: %w", ErrNoPostgres, major, err)
	}
	dir := filepath.Join(root, strconv.Itoa(major))
	bin := filepath.Join(dir, "bin")
	if checkBinDir(bin) == nil {
		b := majorBinaries{binDir: bin, cached: true}
		if fi, err := os.Stat(filepath.Join(dir, "lib")); err == nil && fi.IsDir() {
			b.libDir = filepath.Join(dir, "lib")
		}
		return checkMajor(ctx, b, major)
	}
	looked = append(looked, bin)
	return majorBinaries{}, fmt.Errorf("%w for PostgreSQL %d: looked in %s; fetch them with %s (into $PGTEST_MAJORS_DIR, default ~/.cache/pgsnap/pg-majors)",
		ErrNoPostgres, major, strings.Join(looked, ", "), FetchMajorsScript)
}

// checkMajor returns b if its postgres reports major.
func checkMajor(ctx context.Context, b majorBinaries, major int) (majorBinaries, error) {
	got, err := binaryMajor(ctx, b)
	if err != nil {
		return majorBinaries{}, err
	}
	if got != major {
		return majorBinaries{}, fmt.Errorf("%s holds PostgreSQL %d, want %d", b.binDir, got, major)
	}
	return b, nil
}

// binaryMajor runs `postgres --version` from b as the current user.
func binaryMajor(ctx context.Context, b majorBinaries) (int, error) {
	out, err := b.version(ctx, nil)
	if err != nil {
		return 0, err
	}
	return parseMajor(out)
}

// version runs `postgres --version` as owner and returns its output.
func (b majorBinaries) version(ctx context.Context, owner *serverUser) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	path := filepath.Join(b.binDir, "postgres")
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Dir = "/" // the server user may not be able to enter our working directory
	cmd.Env = libEnv(childEnv(), b.libDir)
	cmd.SysProcAttr = owner.sysProcAttr()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s --version: %w\n%s", path, err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// parseMajor reads the major from "postgres (PostgreSQL) 13.23" or "... 18beta1 (Debian ...)".
func parseMajor(out string) (int, error) {
	_, rest, ok := strings.Cut(out, "(PostgreSQL) ")
	if !ok {
		return 0, fmt.Errorf("parse postgres --version output %q: no \"(PostgreSQL) \"", strings.TrimSpace(out))
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	major, err := strconv.Atoi(rest[:end])
	if err != nil || major <= 0 {
		return 0, fmt.Errorf("parse postgres --version output %q: no major version", strings.TrimSpace(out))
	}
	return major, nil
}

// libEnv adds libDir in front of LD_LIBRARY_PATH; env unchanged when libDir is "".
func libEnv(env []string, libDir string) []string {
	if libDir == "" {
		return env
	}
	out := make([]string, 0, len(env)+1)
	value := libDir
	for _, kv := range env {
		if old, ok := strings.CutPrefix(kv, "LD_LIBRARY_PATH="); ok {
			if old != "" {
				value += ":" + old
			}
			continue
		}
		out = append(out, kv)
	}
	return append(out, "LD_LIBRARY_PATH="+value)
}

// reachable returns binaries the server user can run: b itself when it can, else a copy of the
// build under dest. The cache usually sits in the home directory, and root's is closed to other
// users; the copy is made of hard links where the file system allows (so it costs no space and
// no time) and of copied files elsewhere. Stop removes it with the cluster directory.
func (b majorBinaries) reachable(ctx context.Context, owner *serverUser, dest string) (majorBinaries, error) {
	if owner == nil || !b.cached {
		return b, nil
	}
	if _, err := b.version(ctx, owner); err == nil {
		return b, nil
	}
	root := filepath.Dir(b.binDir)
	if err := linkTree(root, dest); err != nil {
		return majorBinaries{}, fmt.Errorf("copy %s for the server user: %w", root, err)
	}
	staged := majorBinaries{binDir: filepath.Join(dest, "bin")}
	if b.libDir != "" {
		staged.libDir = filepath.Join(dest, "lib")
	}
	if _, err := staged.version(ctx, owner); err != nil {
		return majorBinaries{}, fmt.Errorf("run the copy of %s as the server user: %w", root, err)
	}
	return staged, nil
}

// linkTree recreates the tree src at dst (which must not exist): directories as mode 0755,
// symbolic links as they are, regular files as hard links or, across file systems, copies
// that keep their permission bits. Other file types are left out.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.Mkdir(to, 0o755); err != nil {
				return err
			}
			// The umask may have cut the mode; the server user must be able to enter.
			return os.Chmod(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Type().IsRegular():
			if err := os.Link(path, to); err == nil {
				return nil
			}
			return copyFile(path, to)
		default:
			return nil
		}
	})
}

// copyFile copies a regular file with its permission bits.
func copyFile(from, to string) (err error) {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	// OpenFile's mode is cut by the umask.
	return out.Chmod(fi.Mode().Perm())
}
