// Package pgadmin holds what pgsnap does to a server rather than to a database's contents:
// connecting through its maintenance database, listing, creating and dropping databases, and
// quoting names for the SQL that does so.
package pgadmin

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// QuoteIdent quotes a PostgreSQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteLiteral quotes a PostgreSQL string literal (standard_conforming_strings on).
func QuoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Connect opens a connection named pgsnap to info's database.
func Connect(ctx context.Context, info conninfo.Info) (*pgx.Conn, error) {
	cfg, err := info.With("application_name", "pgsnap").PgxConfig()
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// ConnectMaintenance connects to info's server through the postgres database, or template1
// where postgres is missing or refused.
func ConnectMaintenance(ctx context.Context, info conninfo.Info) (*pgx.Conn, error) {
	var first error
	for _, db := range []string{"postgres", "template1"} {
		conn, err := Connect(ctx, info.With("dbname", db))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// IsMissingDatabase reports whether err is PostgreSQL's "database does not exist" (3D000).
func IsMissingDatabase(err error) bool { return SQLState(err) == "3D000" }

// SQLState is err's SQLSTATE, or "".
func SQLState(err error) string {
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		return pgErr.SQLState()
	}
	return ""
}

// ListDatabases returns the databases of the server that accept connections, templates aside.
func ListDatabases(ctx context.Context, info conninfo.Info) ([]string, error) {
	conn, err := ConnectMaintenance(ctx, info)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
