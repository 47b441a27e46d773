package dump

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// connectionCheckInterval makes a backend notice within about a second that its client died
// (PostgreSQL 14+), even while it waits on a lock, so no session outlives pg_dump (INV-3).
const connectionCheckInterval = "-c client_connection_check_interval=1000"

// DumpOptions configures Dump.
type DumpOptions struct {
	Conn            conninfo.Info
	Binary          Binary        // pg_dump, from Find
	Server          Version       // the server's version, which decides per-version options
	LockWaitTimeout time.Duration // 0 = no limit; passed as --lock-wait-timeout=<ms>
	Args            []string      // extra pg_dump arguments
	Logger          *slog.Logger  // Debug: the command line (it holds no secrets); nil discards
}

// Dump runs `pg_dump --format=custom --no-password` and copies its standard output to w,
// returning the number of bytes written.
//
// The password, if Conn has one, reaches pg_dump through a private passfile, never its
// arguments. When ctx ends, pg_dump's process group is killed and the error wraps
// context.Cause(ctx). A failed write to w kills pg_dump and is returned wrapped ("write dump
// output: …"). A non-zero exit or a signal is an *ExitError with the tail of pg_dump's
// standard error. Dump must not be called from a goroutine that locked its OS thread (see
// sysProcAttr).
func Dump(ctx context.Context, opts DumpOptions, w io.Writer) (int64, error) {
	if w == nil {
		return 0, errors.New("dump: nil writer")
	}
	if opts.Binary.Path == "" {
		return 0, errors.New("dump: no pg_dump binary: use Find")
	}
	return dumpJob(opts).run(ctx, w)
}

// dumpJob builds the pg_dump command; the password stays out of its arguments.
func dumpJob(opts DumpOptions) job {
	args := []string{
		"--format=custom",
		"--no-password",
		"--dbname=" + childConn(opts.Conn, opts.Server).KeywordValue(),
	}
	if opts.LockWaitTimeout > 0 {
		ms := max(opts.LockWaitTimeout.Milliseconds(), 1)
		args = append(args, "--lock-wait-timeout="+strconv.FormatInt(ms, 10))
	}
	args = append(args, opts.Args...)
	return job{
		tool:     toolName(opts.Binary, "pg_dump"),
		path:     opts.Binary.Path,
		args:     args,
		password: opts.Conn.Password(),
		logger:   opts.Logger,
	}
}

// childConn is the connection a client program gets on its command line: named pgsnap in
// pg_stat_activity, with the dead-client check on 14+, and without a passfile keyword when
// the password comes from ours (the keyword would win over PGPASSFILE).
func childConn(conn conninfo.Info, server Version) conninfo.Info {
	c := conn.With("application_name", "pgsnap")
	if conn.HasPassword() {
		c = c.Without("passfile")
	}
	if server.Major >= 14 {
		opt := connectionCheckInterval
		if existing := c.Get("options"); existing != "" {
			opt = existing + " " + opt
		}
		c = c.With("options", opt)
	}
	return c
}

func toolName(b Binary, fallback string) string {
	if b.Tool != "" {
		return b.Tool
	}
	return fallback
}
