package pgadmin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// Scratch database kinds: the prefix of their names.
const (
	ScratchRestore = "pgsnap_restore_"
	ScratchDrill   = "pgsnap_drill_"
)

const (
	// dropPatience bounds how long Drop retries a DROP DATABASE that other sessions block.
	dropPatience = 30 * time.Second
	// cleanupTimeout bounds cleanup work done after the caller's context has ended.
	cleanupTimeout = 10 * time.Second
)

// Scratch is a database pgsnap creates for a restore or a drill, under a name no one else uses
// (pgsnap_restore_<hex>, pgsnap_drill_<hex>). While it exists, the process holds an advisory
// lock named after it on a maintenance session of its own: another pgsnap that finds the
// database with a free lock knows its creator is gone, and drops it (SweepScratch).
type Scratch struct {
	Name string
	conn *pgx.Conn // maintenance session holding the lock
	log  *slog.Logger
}

// CreateScratch removes the leftovers of dead pgsnaps on info's server (SweepScratch), then
// creates a scratch database of kind with the CREATE DATABASE options opts (such as "TEMPLATE
// template0 ENCODING 'UTF8'"; empty for the server's defaults).
func CreateScratch(ctx context.Context, info conninfo.Info, kind, opts string, log *slog.Logger) (*Scratch, error) {
	conn, err := ConnectMaintenance(ctx, info)
	if err != nil {
		return nil, err
	}
	SweepScratch(ctx, conn, log)
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	s := &Scratch{Name: kind + hex.EncodeToString(rnd[:]), conn: conn, log: log}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", scratchKey(s.Name)); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("lock scratch database name %s: %w", s.Name, err)
	}
	if _, err := conn.Exec(ctx, strings.TrimSpace("CREATE DATABASE "+QuoteIdent(s.Name)+" "+opts)); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("create scratch database %s: %w", s.Name, err)
	}
	return s, nil
}

// Conn is the scratch database's maintenance session (connected to postgres or template1): for
// the statements that rename or change databases.
func (s *Scratch) Conn() *pgx.Conn { return s.conn }

// Drop drops the scratch database (also after ctx ended, bounded) and ends its session. An
// error means the database is still there.
func (s *Scratch) Drop(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dropPatience+cleanupTimeout)
	defer cancel()
	err := DropDatabase(cctx, s.conn, s.Name)
	s.conn.Close(cctx) // ends the lock too
	return err
}

// Release keeps the database (it has been renamed into place) and ends the session.
func (s *Scratch) Release(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	s.conn.Close(cctx)
}

// DropDatabase drops name, waiting for other sessions to go. New connections are refused first
// (ALLOW_CONNECTIONS false). A plain DROP DATABASE ends autovacuum workers in the database
// itself, which DROP ... WITH (FORCE) cannot do for a role without superuser (it must be a
// member of the role of every session it ends); so the plain form is retried while sessions
// remain, for up to 30 s, and FORCE is the last resort. A database that is gone already is no
// error.
func DropDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	ident := QuoteIdent(name)
	// Refusing new sessions first is best effort: DROP decides.
	_, _ = conn.Exec(ctx, "ALTER DATABASE "+ident+" WITH ALLOW_CONNECTIONS false")
	deadline := time.Now().Add(dropPatience)
	var err error
	for delay := 100 * time.Millisecond; ; delay = min(delay*2, 2*time.Second) {
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident)
		if err == nil {
			return nil
		}
		// 55006: object_in_use (other sessions are connected).
		if SQLState(err) != "55006" || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	if SQLState(err) == "55006" && ctx.Err() == nil {
		if _, ferr := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); ferr == nil {
			return nil
		} else {
			err = errors.Join(err, ferr)
		}
	}
	return fmt.Errorf("drop database %s: %w", name, err)
}

// SweepScratch drops the scratch databases on conn's server whose creators are gone: their
// lock is free. It only logs.
func SweepScratch(ctx context.Context, conn *pgx.Conn, log *slog.Logger) {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'pgsnap\_restore\_%' OR datname LIKE 'pgsnap\_drill\_%'`)
	if err != nil {
		log.Warn("look for leftover scratch databases", "err", err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		log.Warn("look for leftover scratch databases", "err", err)
		return
	}
	for _, name := range names {
		var free bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", scratchKey(name)).Scan(&free); err != nil || !free {
			continue // a live pgsnap holds it
		}
		if err := DropDatabase(ctx, conn, name); err != nil {
			log.Warn("drop a leftover scratch database", "database", name, "err", err)
		} else {
			log.Info("dropped a scratch database left by a pgsnap that ended", "database", name)
		}
		_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", scratchKey(name))
	}
}

// scratchKey is the advisory lock key of a scratch database's name.
func scratchKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pgsnap-scratch:" + name))
	return int64(h.Sum64())
}
