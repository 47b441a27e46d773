package dump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// GlobalsOptions configures Globals.
type GlobalsOptions struct {
	Conn   conninfo.Info
	Binary Binary       // pg_dumpall, from Find
	Server Version      // the server's version
	Logger *slog.Logger // Debug: the command line (no secrets); nil discards
}

// Globals runs `pg_dumpall --globals-only` (roles with their password hashes, tablespaces,
// role settings) and copies its SQL to w, with Dump's password and process handling.
func Globals(ctx context.Context, opts GlobalsOptions, w io.Writer) (int64, error) {
	if opts.Binary.Path == "" {
		return 0, errors.New("globals: no pg_dumpall binary: use Find")
	}
	conn, err := clientConn(opts.Conn, opts.Server, os.Getenv)
	if err != nil {
		return 0, fmt.Errorf("globals: %w", err)
	}
	return job{
		tool: toolName(opts.Binary, "pg_dumpall"),
		path: opts.Binary.Path,
		args: []string{"--globals-only", "--no-password",
			"--dbname=" + conn.KeywordValue()},
		password: conn.Password(),
		logger:   opts.Logger,
	}.run(ctx, w)
}

// ApplySQLOptions configures ApplySQL.
type ApplySQLOptions struct {
	Conn   conninfo.Info
	Binary Binary // psql, from Find
	Server Version
	Logger *slog.Logger
}

// ApplySQL runs the SQL read from r with `psql -X -v ON_ERROR_STOP=1`:
// the first SQL error stops it (what ran before stays: CREATE TABLESPACE cannot run in a
// transaction). An error is an *ExitError with psql's
// message.
func ApplySQL(ctx context.Context, opts ApplySQLOptions, r io.Reader) error {
	if opts.Binary.Path == "" {
		return errors.New("apply SQL: no psql binary: use Find")
	}
	conn, err := clientConn(opts.Conn, opts.Server, os.Getenv)
	if err != nil {
		return fmt.Errorf("apply SQL: %w", err)
	}
	_, err = job{
		tool: toolName(opts.Binary, "psql"),
		path: opts.Binary.Path,
		args: []string{"-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1",
			"--dbname=" + conn.KeywordValue(), "-f", "-"},
		password: conn.Password(),
		logger:   opts.Logger,
		stdin:    r,
	}.run(ctx, nil)
	return err
}
