package dump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
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
// The password, if Conn has one (or else pgsnap's PGPASSWORD), reaches pg_dump through a
// private passfile, never its arguments (a password with a line break, which a passfile
// cannot hold, goes in its PGPASSWORD). pg_dump inherits only an allow-list of pgsnap's
// environment (PATH, HOME, the locale, libpq's PG* settings), none of pgsnap's secrets. A Conn with an sslpassword fails with conninfo.ErrSSLPassword before
// pg_dump starts. When ctx ends, pg_dump's process group is killed and the error wraps
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
	j, err := dumpJob(opts, os.Getenv)
	if err != nil {
		return 0, fmt.Errorf("dump: %w", err)
	}
	return j.run(ctx, w)
}

// dumpJob builds the pg_dump command; the password stays out of its arguments.
func dumpJob(opts DumpOptions, getenv func(string) string) (job, error) {
	conn, err := clientConn(opts.Conn, opts.Server, getenv)
	if err != nil {
		return job{}, err
	}
	args := []string{
		"--format=custom",
		"--no-password",
		"--dbname=" + conn.KeywordValue(),
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
		password: conn.Password(),
		logger:   opts.Logger,
	}, nil
}

// clientConn is the connection a client program gets: its KeywordValue goes on the command
// line, its Password to the private passfile. It is named pgsnap in pg_stat_activity, has the
// dead-client check on 14+, and has no passfile keyword when there is a password (the keyword
// would win over our PGPASSFILE).
//
// The program does not inherit PGPASSWORD or PGPASSFILE (childEnv), so clientConn applies
// them as libpq would have, reading them with getenv: without a password in conn, a
// PGPASSWORD becomes the password (it reaches the program through the passfile, not its
// environment); failing that, a PGPASSFILE becomes the passfile keyword, unless conn has one.
//
// A connection with an sslpassword is refused: it would be on the command line.
func clientConn(conn conninfo.Info, server Version, getenv func(string) string) (conninfo.Info, error) {
	if err := conninfo.RefuseSSLPassword(conn); err != nil {
		return conninfo.Info{}, err
	}
	c := conn.With("application_name", "pgsnap")
	if !c.HasPassword() {
		if pw := getenv("PGPASSWORD"); pw != "" {
			c = c.With("password", pw)
		} else if pf := getenv("PGPASSFILE"); pf != "" && c.Get("passfile") == "" {
			c = c.With("passfile", pf)
		}
	}
	if c.HasPassword() {
		c = c.Without("passfile")
	}
	if server.Major >= 14 {
		opt := connectionCheckInterval
		if existing := c.Get("options"); existing != "" {
			opt = existing + " " + opt
		}
		c = c.With("options", opt)
	}
	return c, nil
}

func toolName(b Binary, fallback string) string {
	if b.Tool != "" {
		return b.Tool
	}
	return fallback
}
