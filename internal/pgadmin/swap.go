package pgadmin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// maxIdentLen is PostgreSQL's longest identifier (NAMEDATALEN - 1).
const maxIdentLen = 63

// AsideName is the name a replaced database is renamed to: <db>_pgsnap_old_<UTC time>.
func AsideName(db string, at time.Time) string {
	suffix := "_pgsnap_old_" + at.UTC().Format("20060102T150405")
	if len(db)+len(suffix) > maxIdentLen {
		db = db[:maxIdentLen-len(suffix)]
	}
	return db + suffix
}

// Rename renames database from to to; it fails while anyone is connected to from.
func Rename(ctx context.Context, conn *pgx.Conn, from, to string) error {
	_, err := conn.Exec(ctx, "ALTER DATABASE "+QuoteIdent(from)+" RENAME TO "+QuoteIdent(to))
	return err
}

// RenameAside renames db to aside. Other sessions connected to db make it fail, naming them,
// unless force: then new connections are refused and those sessions ended first. reopen
// allows connections again to the database now called name, when RenameAside refused them.
func RenameAside(ctx context.Context, conn *pgx.Conn, db, aside string, force bool) (reopen func(ctx context.Context, name string), err error) {
	reopen = func(context.Context, string) {}
	others, err := sessions(ctx, conn, db)
	if err != nil {
		return reopen, err
	}
	if len(others) > 0 && !force {
		return reopen, fmt.Errorf("%d other sessions are connected to it (%s): stop them, or pass --force-disconnect to end them", len(others), strings.Join(others, ", "))
	}
	if force {
		var allowed bool
		if err := conn.QueryRow(ctx, "SELECT datallowconn FROM pg_database WHERE datname = $1", db).Scan(&allowed); err != nil {
			return reopen, err
		}
		if allowed {
			if _, err := conn.Exec(ctx, "ALTER DATABASE "+QuoteIdent(db)+" WITH ALLOW_CONNECTIONS false"); err != nil {
				return reopen, fmt.Errorf("refuse new connections: %w", err)
			}
			reopen = func(ctx context.Context, name string) {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
				defer cancel()
				_, _ = conn.Exec(cctx, "ALTER DATABASE "+QuoteIdent(name)+" WITH ALLOW_CONNECTIONS true")
			}
		}
		if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db); err != nil {
			reopen(ctx, db)
			return func(context.Context, string) {}, fmt.Errorf("end the other sessions: %w", err)
		}
	}
	deadline := time.Now().Add(dropPatience)
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		err = Rename(ctx, conn, db, aside)
		if err == nil {
			return reopen, nil
		}
		// Sessions take a moment to end after pg_terminate_backend.
		if !force || SQLState(err) != "55006" || time.Now().After(deadline) {
			break
		}
		time.Sleep(delay)
	}
	reopen(ctx, db)
	return func(context.Context, string) {}, fmt.Errorf("rename it aside: %w", err)
}

// sessions describes the other sessions connected to db: "user@address (application)".
func sessions(ctx context.Context, conn *pgx.Conn, db string) ([]string, error) {
	rows, err := conn.Query(ctx, `
SELECT coalesce(usename, '?') || '@' || coalesce(host(client_addr), 'local') ||
       CASE WHEN application_name <> '' THEN ' (' || application_name || ')' ELSE '' END
FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`, db)
	if err != nil {
		return nil, fmt.Errorf("look for sessions on %q: %w", db, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// SystemID is the server's system identifier, which tells one cluster from another, or "" when
// it cannot be read.
func SystemID(ctx context.Context, conn *pgx.Conn) string {
	var id string
	if err := conn.QueryRow(ctx, "SELECT system_identifier::text FROM pg_control_system()").Scan(&id); err != nil {
		return ""
	}
	return id
}

// SystemIDOf is SystemID of info's server, on a connection of its own ("" when unknown).
func SystemIDOf(ctx context.Context, info conninfo.Info) string {
	conn, err := Connect(ctx, info)
	if err != nil {
		return ""
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return SystemID(ctx, conn)
}
