package dump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// RestoreOptions configures Restore.
type RestoreOptions struct {
	Conn    conninfo.Info // the target database
	Binary  Binary        // pg_restore, from Find
	Server  Version       // the target server's version
	File    string        // a custom-format archive
	Input   io.Reader     // instead of File: the archive streamed to pg_restore's stdin (Jobs must be 1)
	Jobs    int           // parallel jobs, >= 1
	Clean   bool          // --clean --if-exists: drop objects before recreating them
	NoOwner bool          // --no-owner --no-privileges
	// Section restores one section only ("pre-data", "data" or "post-data"); "" all of them.
	Section string
	// DataOnly restores only the data of an archive taken with --data-only.
	DataOnly bool
	Logger   *slog.Logger // Debug: the command line (it holds no secrets); nil discards
	// List restores only the TOC entries a pg_restore --list file names, in its order
	// (--use-list): one table with what goes with it, say.
	List string
	// SingleTransaction restores in one transaction (--single-transaction, one job only):
	// with --exit-on-error, all or nothing.
	SingleTransaction bool
}

// Restore runs `pg_restore --exit-on-error` into opts.Conn's database, with the same password
// and process handling as Dump: the error wraps context.Cause(ctx) when ctx ends and is an
// *ExitError when pg_restore fails. A missing File fails before pg_restore starts.
func Restore(ctx context.Context, opts RestoreOptions) error {
	if opts.Jobs < 1 {
		return fmt.Errorf("restore: jobs %d: want 1 or more", opts.Jobs)
	}
	if opts.Binary.Path == "" {
		return errors.New("restore: no pg_restore binary: use Find")
	}
	var file string
	if opts.Input != nil {
		if opts.File != "" || opts.Jobs != 1 {
			return errors.New("restore: a streamed archive takes no File and one job")
		}
	} else {
		var err error
		file, err = filepath.Abs(opts.File) // an absolute path cannot be taken for an option
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if _, err := os.Stat(file); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	conn, err := clientConn(opts.Conn, opts.Server, os.Getenv)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	args := []string{
		"--no-password",
		"--exit-on-error",
		"--dbname=" + conn.KeywordValue(),
		"--jobs=" + strconv.Itoa(opts.Jobs),
	}
	if opts.Clean {
		args = append(args, "--clean", "--if-exists")
	}
	if opts.NoOwner {
		args = append(args, "--no-owner", "--no-privileges")
	}
	if opts.Section != "" {
		args = append(args, "--section="+opts.Section)
	}
	if opts.DataOnly {
		args = append(args, "--data-only")
	}
	if opts.List != "" {
		list, err := filepath.Abs(opts.List)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		args = append(args, "--use-list="+list)
	}
	if opts.SingleTransaction {
		if opts.Jobs != 1 {
			return errors.New("restore: a single transaction takes one job")
		}
		args = append(args, "--single-transaction")
	}
	if file != "" {
		args = append(args, file)
	}
	j := job{
		tool:     toolName(opts.Binary, "pg_restore"),
		path:     opts.Binary.Path,
		args:     args,
		password: conn.Password(),
		logger:   opts.Logger,
		stdin:    opts.Input,
	}
	_, err = j.run(ctx, nil)
	return err
}
