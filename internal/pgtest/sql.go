package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// URL returns the connection URL of database db over TCP, with the superuser's password
// percent-encoded: postgres://postgres:<pw>@127.0.0.1:<port>/<db>?sslmode=disable.
// It holds the password: do not log it.
func (c *Cluster) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.User, c.Password),
		Host:     c.Addr(),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Addr returns the server's TCP address, "127.0.0.1:<port>".
func (c *Cluster) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// Connect opens a connection to database db as the superuser, over TCP with the password.
// The caller closes it.
func (c *Cluster) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		return nil, fmt.Errorf("connect to %s on %s: %w", db, c.Addr(), err)
	}
	return conn, nil
}

// Exec runs sql with args in database db on a connection of its own.
func (c *Cluster) Exec(ctx context.Context, db, sql string, args ...any) (err error) {
	conn, err := c.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := conn.Close(context.WithoutCancel(ctx)); err == nil && cerr != nil {
			err = fmt.Errorf("close connection to %s: %w", db, cerr)
		}
	}()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("exec in %s: %w", db, err)
	}
	return nil
}

// CreateDatabase creates database name (quoted as an identifier, so any name works).
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// DropDatabase drops database name if it exists, disconnecting its sessions first
// (DROP DATABASE IF EXISTS ... WITH (FORCE)).
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	sql := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
	if err := c.Exec(ctx, "postgres", sql); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}
