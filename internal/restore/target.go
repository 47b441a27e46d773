package restore

import (
	"context"
	"fmt"
	"time"

	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/pgadmin"
)

// targetState is what a restore found of its target before changing anything.
type targetState struct {
	info     conninfo.Info
	exists   bool
	tables   int    // user tables and materialized views
	systemID string // the server's system identifier ("" when it could not be read)
}

// inspectTarget looks at the target database and its server.
func inspectTarget(ctx context.Context, target conninfo.Info) (targetState, error) {
	st := targetState{info: target}
	admin, err := pgadmin.ConnectMaintenance(ctx, target)
	if err != nil {
		return st, fmt.Errorf("connect to restore target server: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	db := target.Database()
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&st.exists); err != nil {
		return st, fmt.Errorf("look up database %q: %w", db, err)
	}
	st.systemID = pgadmin.SystemID(ctx, admin)
	if !st.exists {
		return st, nil
	}
	conn, err := pgadmin.Connect(ctx, target)
	if err != nil {
		return st, fmt.Errorf("connect to restore target: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.QueryRow(ctx, `
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'`).Scan(&st.tables)
	if err != nil {
		return st, fmt.Errorf("inspect database %q: %w", db, err)
	}
	return st, nil
}

// guard refuses a target with user tables without Clean, and the snapshot's own source
// database (same server, same name) without Force.
func (r *Restorer) guard(snap catalog.Snapshot, t targetState, opts Options) error {
	db := t.info.Database()
	if t.tables > 0 && !opts.Clean {
		return fmt.Errorf("restore target database %q already has %d user tables: restore into a new database, or pass --clean to replace it (it is replaced only once the restore is proven)", db, t.tables)
	}
	if t.exists && snap.SystemIdentifier != "" && snap.SystemIdentifier == t.systemID && snap.Database == db && !opts.Force {
		return fmt.Errorf("restore target database %q is the snapshot's own source (server %s): replacing it loses everything written since %s; pass --force to do it anyway, or restore into another name", db, t.systemID, snap.Time().UTC().Format(time.RFC3339))
	}
	return nil
}

// swap puts the proven scratch database in the target's place: an existing target is renamed
// aside first (its other sessions end only with ForceDisconnect), then dropped unless KeepOld.
// It returns the old database's name when kept.
func (r *Restorer) swap(ctx context.Context, scratch *pgadmin.Scratch, t targetState, opts Options) (keptOld string, err error) {
	conn := scratch.Conn()
	db := t.info.Database()
	if !t.exists {
		if err := pgadmin.Rename(ctx, conn, scratch.Name, db); err != nil {
			return "", fmt.Errorf("put the restored database in place as %q: %w", db, err)
		}
		r.log.Info("restored database in place", "database", db)
		return "", nil
	}
	old := pgadmin.AsideName(db, time.Now())
	reopen, err := pgadmin.RenameAside(ctx, conn, db, old, opts.ForceDisconnect)
	if err != nil {
		return "", fmt.Errorf("restore target database %q unchanged: %w", db, err)
	}
	if err := pgadmin.Rename(ctx, conn, scratch.Name, db); err != nil {
		// Put the old one back: the target stays as it was.
		if berr := pgadmin.Rename(ctx, conn, old, db); berr != nil {
			return "", fmt.Errorf("put the restored database in place as %q: %w; and the old database could not be renamed back from %q: %v", db, err, old, berr)
		}
		reopen(ctx, db)
		return "", fmt.Errorf("restore target database %q unchanged: put the restored database in place: %w", db, err)
	}
	reopen(ctx, old)
	if opts.KeepOld {
		r.log.Info("restored database in place; the old one is kept", "database", db, "old", old)
		return old, nil
	}
	if err := pgadmin.DropDatabase(ctx, conn, old); err != nil {
		return old, fmt.Errorf("restored database in place as %q, but the old one, renamed %q, could not be dropped: %w", db, old, err)
	}
	r.log.Info("restored database in place; the old one is dropped", "database", db)
	return "", nil
}
