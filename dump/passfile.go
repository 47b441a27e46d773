package dump

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// passfile hands a password to a child's libpq without putting it on the command line.
//
// On Linux the file is a memfd passed as the child's fd 3 (ExtraFiles[0]) and named by
// PGPASSFILE=/dev/fd/3: nothing reaches the disk, and libpq re-opens the path for every
// connection, so pg_restore's parallel workers (forked, fd 3 inherited) read it too.
// Elsewhere, or when memfd_create fails, it is a 0600 file in a fresh 0700 directory, removed
// by close.
type passfile struct {
	env   []string   // variables to set in the child's environment
	files []*os.File // the child's ExtraFiles
	dir   string     // temporary directory to remove, if any
}

// newPassfile writes password for a child. useMemfd false forces the temporary file.
func newPassfile(password string, useMemfd bool) (*passfile, error) {
	if strings.ContainsAny(password, "\r\n") {
		// libpq reads the passfile line by line and strips a trailing CR, so a line break
		// cannot be written there. The child's environment is the other private channel:
		// /proc/<pid>/environ is readable by the same user only, as is its fd 3.
		return &passfile{env: []string{"PGPASSWORD=" + password}}, nil
	}
	content := []byte(passfileLine(password))
	if useMemfd {
		if f, err := memfdFile(content); err == nil {
			return &passfile{env: []string{"PGPASSFILE=/dev/fd/3"}, files: []*os.File{f}}, nil
		}
		// No memfd (old kernel, seccomp policy): fall back to the temporary file.
	}
	dir, err := os.MkdirTemp("", "pgsnap-pgpass-")
	if err != nil {
		return nil, fmt.Errorf("create passfile directory: %w", err)
	}
	path := filepath.Join(dir, "pgpass")
	if err := writePrivate(path, content); err != nil {
		return nil, errors.Join(fmt.Errorf("write passfile: %w", err), os.RemoveAll(dir))
	}
	return &passfile{env: []string{"PGPASSFILE=" + path}, dir: dir}, nil
}

// passfileLine matches every host, port, database and user. libpq ends each field at an
// unescaped ':' and takes a backslash as escaping the next character.
func passfileLine(password string) string {
	return "*:*:*:*:" + strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(password) + "\n"
}

// writePrivate creates path with mode 0600 whatever the umask: libpq ignores a passfile with
// group or other permissions.
func writePrivate(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(content)
	return errors.Join(werr, f.Chmod(0o600), f.Close())
}

// close releases the memfd and removes the temporary directory.
func (p *passfile) close() error {
	var errs []error
	for _, f := range p.files {
		errs = append(errs, f.Close())
	}
	if p.dir != "" {
		if err := os.RemoveAll(p.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove passfile: %w", err))
		}
	}
	return errors.Join(errs...)
}
