package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// ErrNoPostgres is wrapped by Start when no PostgreSQL server binaries are found.
var ErrNoPostgres = errors.New("no PostgreSQL server binaries")

// findBinDir returns the directory holding the server binaries, chosen as documented on
// Options.BinDir.
func findBinDir(explicit string) (string, error) {
	if explicit != "" {
		return explicit, checkBinDir(explicit)
	}
	if dir := os.Getenv("PGTEST_BIN_DIR"); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("PGTEST_BIN_DIR: %w", err)
		}
		return dir, nil
	}
	if dir := highestDebianBinDir(); dir != "" {
		return dir, nil
	}
	path, err := exec.LookPath("initdb")
	if err != nil {
		return "", fmt.Errorf("%w: none under /usr/lib/postgresql/*/bin, no initdb on PATH (install the server or set PGTEST_BIN_DIR)", ErrNoPostgres)
	}
	// Distributions link initdb into /usr/bin or /usr/local/bin alone; the real directory holds
	// pg_ctl and postgres too.
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir := filepath.Dir(path)
	return dir, checkBinDir(dir)
}

// highestDebianBinDir returns the newest /usr/lib/postgresql/<version>/bin holding initdb, or "".
func highestDebianBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var found []string
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) {
			found = append(found, d)
		}
	}
	if len(found) == 0 {
		return ""
	}
	return slices.MaxFunc(found, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b)))
	})
}

// compareVersions orders dotted version strings numerically ("9.6" < "10" < "15").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}

// checkBinDir reports which of the programs a cluster needs are missing from dir.
func checkBinDir(dir string) error {
	var missing []string
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if !isExecutable(filepath.Join(dir, name)) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w in %s (missing %s)", ErrNoPostgres, dir, strings.Join(missing, ", "))
	}
	return nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// serverUser is the OS identity the server processes run as. A nil *serverUser means the
// current user.
type serverUser struct {
	uid, gid int
}

// lookupServerUser returns nil when not root. PostgreSQL refuses to run as root, so a root
// process hands the cluster to the OS user "postgres".
func lookupServerUser() (*serverUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the OS user postgres to own the server: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("parse uid of OS user postgres: %w", err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("parse gid of OS user postgres: %w", err)
	}
	return &serverUser{uid: uid, gid: gid}, nil
}

// sysProcAttr drops the child's privileges to the server user; nil keeps the current user.
func (u *serverUser) sysProcAttr() *syscall.SysProcAttr {
	if u == nil {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}}
}

// chown hands path to the server user; a no-op when running as that user already.
func (u *serverUser) chown(path string) error {
	if u == nil {
		return nil
	}
	if err := os.Chown(path, u.uid, u.gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}
