package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/pgadmin"
	"github.com/pgsnap/pgsnap/internal/settings"
)

// Options say where and how to restore a snapshot.
type Options struct {
	// Target is the database to restore into. It is created when missing.
	Target settings.ConnString
	// Clean replaces a target database that has user tables: it is dropped and created afresh
	// (same owner, encoding and locale). Without it such a target is refused.
	Clean bool
	// Jobs is the number of parallel pg_restore jobs (default 1; the CLI's default is the
	// number of CPUs).
	Jobs int
	// NoOwner skips restoring object ownership and privileges (for a server without the
	// source's roles).
	NoOwner bool
	// Stream pipes the decoded snapshot into pg_restore instead of writing a temporary file
	// first (for little disk): one job only, and the stored bytes are checked as they pass, so
	// a damaged snapshot fails the restore at its end (and a database pgsnap created is dropped)
	// rather than before it starts.
	Stream bool
	// WithGlobals first applies the roles and tablespaces of the snapshot's server (its newest
	// globals snapshot not after it) to the target's server, with psql stopping on the first
	// SQL error; then the database is restored (owners and grants find their roles).
	WithGlobals bool
}

// Restorer restores snapshots of a catalog into databases, and proves each restore by
// comparing every table's row count with the manifest.
type Restorer struct {
	cfg settings.Config
	cat *catalog.Catalog
	log *slog.Logger
}

// New is a restorer of cat's snapshots; cfg gives SNAPSHOT_PG_BIN_DIR and SNAPSHOT_TMPDIR.
func New(cfg settings.Config, cat *catalog.Catalog, log *slog.Logger) *Restorer {
	return &Restorer{cfg: cfg, cat: cat, log: log}
}

// Restore restores snap into opts.Target, holding a lease on it. It checks the stored bytes
// against the manifest before connecting to the target, refuses a target with user tables
// unless opts.Clean, and drops the target database again if it created it and the restore
// failed.
func (r *Restorer) Restore(ctx context.Context, snap catalog.Snapshot, opts Options) error {
	if opts.Target == "" {
		return errors.New("restore: no target database given")
	}
	target, err := opts.Target.Parse()
	if err != nil {
		return fmt.Errorf("restore target: %w", err)
	}
	if target.Database() == "" {
		return fmt.Errorf("restore target %s names no database", target)
	}
	if opts.Jobs < 1 {
		opts.Jobs = 1
	}
	lease, err := r.cat.Lease(ctx, snap, "restore")
	if err != nil {
		return err
	}
	defer lease.Release()
	file, cleanup := "", func() {}
	if opts.Stream {
		opts.Jobs = 1
		if snap.Encrypted {
			if _, err := codec.Identities(r.cfg.AgeIdentityFile, snap.Name, snap.Recipients); err != nil {
				return err // before the target is touched
			}
		}
	} else if file, cleanup, err = r.ArchiveFile(ctx, snap); err != nil {
		return err
	}
	defer cleanup()

	// Version checks come before anything changes on the target.
	serverVersion, err := targetServerVersion(ctx, target)
	if err != nil {
		return fmt.Errorf("connect to restore target: %w", err)
	}
	bin, err := Binary(ctx, snap, serverVersion, r.cfg.PGBinDir)
	if err != nil {
		return err
	}
	if opts.WithGlobals {
		g, err := r.globalsFor(ctx, snap)
		if err != nil {
			return err
		}
		r.log.Info("applying globals", "globals", g.Name, "server", target.Get("host"))
		if err := r.applyGlobals(ctx, g, target, serverVersion); err != nil {
			return err
		}
	}
	created, err := prepareTarget(ctx, target, opts.Clean)
	if err != nil {
		return err
	}
	r.log.Info("restoring", "snapshot", snap.Name, "database", target.Database(), "pg_restore", bin.Path, "jobs", opts.Jobs)
	ropts := dump.RestoreOptions{
		Conn: target, Binary: bin, Server: serverVersion, File: file,
		Jobs: opts.Jobs, NoOwner: opts.NoOwner, Logger: r.log,
	}
	if opts.Stream {
		err = r.restoreStream(ctx, snap, ropts)
	} else {
		err = dump.Restore(ctx, ropts)
	}
	if err != nil {
		return r.dropCreated(ctx, target, created, fmt.Errorf("restore %s into %s: %w", snap.Name, target.Database(), err))
	}
	if snap.Rows == nil {
		r.log.Warn("restored without checking row counts: " + ErrNoRows.Error())
		return nil
	}
	got, err := CountRows(ctx, target, snap.Rows, opts.Jobs)
	if err == nil {
		if diff := RowDiff(snap.Rows, got); diff != "" {
			err = fmt.Errorf("restored row counts differ from the manifest: %s", diff)
		}
	}
	if err != nil {
		return r.dropCreated(ctx, target, created, fmt.Errorf("restore %s into %s: %w", snap.Name, target.Database(), err))
	}
	return nil
}

// restoreStream pipes the decoded snapshot into pg_restore and checks the stored bytes against
// the manifest once they have all passed.
func (r *Restorer) restoreStream(ctx context.Context, snap catalog.Snapshot, opts dump.RestoreOptions) error {
	a, err := r.cat.Open(ctx, snap, catalog.Archive)
	if err != nil {
		return err
	}
	defer a.Close()
	opts.Input = a
	restoreErr := dump.Restore(ctx, opts)
	if err := a.Verify(); err != nil {
		return err // the cause, when pg_restore failed on damaged input
	}
	return restoreErr
}

// targetServerVersion asks the target's server its version, through the maintenance
// databases when the target database does not exist yet.
func targetServerVersion(ctx context.Context, target conninfo.Info) (dump.Version, error) {
	v, err := dump.ServerVersion(ctx, target)
	if err == nil || !pgadmin.IsMissingDatabase(err) {
		return v, err
	}
	for _, db := range []string{"postgres", "template1"} {
		if v, err = dump.ServerVersion(ctx, target.With("dbname", db)); err == nil {
			return v, nil
		}
	}
	return v, err
}

// Binary finds a pg_restore at least as new as both the archive's pg_dump and the target
// server, and refuses a target server older than the source.
func Binary(ctx context.Context, snap catalog.Snapshot, server dump.Version, binDir string) (dump.Binary, error) {
	need := server
	if src, err := dump.ParseVersion(snap.ServerVersion); err == nil && server.Major < src.Major {
		return dump.Binary{}, fmt.Errorf("restore target server %s is older than the snapshot's source server %s: restore into PostgreSQL %d or newer", server, src, src.Major)
	}
	if v, err := dump.ParseVersion(snap.PGDumpVersion); err == nil && v.Major > need.Major {
		need = v
	}
	return dump.Find(ctx, "pg_restore", need, binDir)
}

// prepareTarget creates the target database when missing (created = true). One that has user
// tables is refused unless clean; with clean it is dropped and created afresh with the same
// owner, encoding and locale. (pg_restore --clean cannot replace every schema: it fails on the
// constraints of partitions, for one.)
func prepareTarget(ctx context.Context, target conninfo.Info, clean bool) (created bool, err error) {
	db := target.Database()
	admin, err := pgadmin.ConnectMaintenance(ctx, target)
	if err != nil {
		return false, fmt.Errorf("connect to restore target server: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up database %q: %w", db, err)
	}
	if !exists {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
			return false, fmt.Errorf("create database %q: %w", db, err)
		}
		return true, nil
	}
	tables, err := userTables(ctx, target)
	if err != nil {
		return false, err
	}
	if tables == 0 {
		return false, nil
	}
	if !clean {
		return false, fmt.Errorf("restore target database %q already has %d user tables: restore into a new database, or pass --clean to replace its contents", db, tables)
	}
	return false, recreateDatabase(ctx, admin, db)
}

// userTables counts the tables and materialized views outside the system schemas.
func userTables(ctx context.Context, target conninfo.Info) (int, error) {
	cfg, err := target.With("application_name", "pgsnap").PgxConfig()
	if err != nil {
		return 0, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to restore target: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var tables int
	err = conn.QueryRow(ctx, `
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'`).Scan(&tables)
	if err != nil {
		return 0, fmt.Errorf("inspect database %q: %w", target.Database(), err)
	}
	return tables, nil
}

// recreateDatabase drops db and creates it again with its owner, encoding and locale. It fails,
// changing nothing, while other sessions are connected to db.
func recreateDatabase(ctx context.Context, admin *pgx.Conn, db string) error {
	var owner, encoding, collate, ctype string
	err := admin.QueryRow(ctx, `
SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype
FROM pg_database WHERE datname = $1`, db).Scan(&owner, &encoding, &collate, &ctype)
	if err != nil {
		return fmt.Errorf("look up database %q: %w", db, err)
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		return fmt.Errorf("--clean: drop database %q: %w", db, err)
	}
	create := fmt.Sprintf("CREATE DATABASE %s OWNER %s TEMPLATE template0 ENCODING %s LC_COLLATE %s LC_CTYPE %s",
		pgx.Identifier{db}.Sanitize(), pgx.Identifier{owner}.Sanitize(), pgadmin.QuoteLiteral(encoding), pgadmin.QuoteLiteral(collate), pgadmin.QuoteLiteral(ctype))
	if _, err := admin.Exec(ctx, create); err != nil {
		return fmt.Errorf("--clean: create database %q again: %w", db, err)
	}
	return nil
}

// dropCreated drops the target database when this restore created it, and returns cause.
func (r *Restorer) dropCreated(ctx context.Context, target conninfo.Info, created bool, cause error) error {
	if !created {
		return cause
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	admin, err := pgadmin.ConnectMaintenance(cctx, target)
	if err == nil {
		defer admin.Close(cctx)
		_, err = admin.Exec(cctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{target.Database()}.Sanitize()+" WITH (FORCE)")
	}
	if err != nil {
		r.log.Error("drop database created for the failed restore", "database", target.Database(), "err", err)
		return fmt.Errorf("%w (and dropping database %q it created failed: %v)", cause, target.Database(), err)
	}
	r.log.Info("dropped database created for the failed restore", "database", target.Database())
	return cause
}
