// Package restore restores snapshots, and never destroys what a target holds before its
// replacement is proven: every restore goes into a fresh scratch database created with the
// source database's properties, is checked table by table against the manifest's row counts,
// and only then takes the target's name (the old database renamed aside, then dropped).
package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

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
	// Clean replaces a target database that has user tables. Without it such a target is
	// refused. Either way the old database is replaced only once the restore is proven.
	Clean bool
	// Force allows Clean to replace the snapshot's own source database (the same database on
	// the same server).
	Force bool
	// ForceDisconnect ends the other sessions connected to the target when the restored
	// database is put in its place; without it they make the restore fail, the target
	// untouched.
	ForceDisconnect bool
	// KeepOld keeps the replaced database, renamed aside (Result.KeptOld), instead of
	// dropping it.
	KeepOld bool
	// Jobs is the number of parallel pg_restore jobs (default 1; the CLI's default is the
	// number of CPUs).
	Jobs int
	// NoOwner skips restoring object ownership and privileges (for a server without the
	// source's roles): the database and its objects belong to the restoring user.
	NoOwner bool
	// Stream pipes the decoded snapshot into pg_restore instead of writing a temporary file
	// first (for little disk): one job only, and the stored bytes are checked as they pass, so
	// a damaged snapshot fails the restore at its end, with the target untouched.
	Stream bool
	// WithGlobals first applies the roles and tablespaces of the snapshot's server (its newest
	// globals snapshot not after it) to the target's server, with psql stopping on the first
	// SQL error; then the database is restored (owners and grants find their roles).
	WithGlobals bool
}

// Result is what a restore did.
type Result struct {
	Snapshot catalog.Snapshot
	Database string // the target database, now holding the snapshot
	Tables   int    // tables whose row counts were proven
	Rows     int64  // rows in them
	// Replaced says the target existed and was replaced; KeptOld names it, renamed aside, when
	// Options.KeepOld kept it.
	Replaced bool
	KeptOld  string
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

// Restore restores snap into opts.Target, holding a lease on it, as a swap:
//
//  1. the stored bytes are decoded and checked against the manifest (not with Stream), and the
//     target is checked (refused: template0, template1, postgres; one with user tables without
//     Clean; the snapshot's own source without Force), before anything changes;
//  2. a scratch database is created with the source database's properties, the snapshot
//     restored into it with pg_restore --exit-on-error, and every table's row count compared
//     with the manifest; the database's settings, comment and grants follow;
//  3. only then is an existing target renamed aside, the scratch database renamed to the
//     target's name, and the old one dropped (kept with KeepOld).
//
// On any failure before step 3 the target is exactly as it was and the scratch database is
// gone; a scratch database that cannot be dropped is part of the error.
func (r *Restorer) Restore(ctx context.Context, snap catalog.Snapshot, opts Options) (Result, error) {
	res := Result{Snapshot: snap}
	target, err := r.checkOptions(&opts)
	if err != nil {
		return res, err
	}
	res.Database = target.Database()
	lease, err := r.cat.Lease(ctx, snap, "restore")
	if err != nil {
		return res, err
	}
	defer lease.Release()
	job, err := r.prepare(ctx, snap, target, opts)
	if err != nil {
		return res, err
	}
	defer job.cleanup()
	tgt, err := inspectTarget(ctx, target)
	if err != nil {
		return res, err
	}
	if err := r.guard(snap, tgt, opts); err != nil {
		return res, err
	}
	if opts.WithGlobals {
		g, err := r.globalsFor(ctx, snap)
		if err != nil {
			return res, err
		}
		r.log.Info("applying globals", "globals", g.Name, "server", target.Get("host"))
		if err := r.applyGlobals(ctx, g, target, job.server); err != nil {
			return res, err
		}
	}
	err = r.intoScratch(ctx, job, pgadmin.ScratchRestore, &res, func(scratch *pgadmin.Scratch) error {
		var err error
		res.KeptOld, err = r.swap(ctx, scratch, tgt, opts)
		return err
	})
	res.Replaced = err == nil && tgt.exists
	return res, err
}

// Drill restores snap into a scratch database on server's, proves it by every table's row
// count, and drops it again: a restore without its last step. It holds a lease on snap.
func (r *Restorer) Drill(ctx context.Context, snap catalog.Snapshot, server conninfo.Info) (Result, error) {
	res := Result{Snapshot: snap}
	lease, err := r.cat.Lease(ctx, snap, "drill")
	if err != nil {
		return res, err
	}
	defer lease.Release()
	opts := Options{Jobs: runtime.NumCPU(), NoOwner: true}
	job, err := r.prepare(ctx, snap, server, opts)
	if err != nil {
		return res, err
	}
	defer job.cleanup()
	err = r.intoScratch(ctx, job, pgadmin.ScratchDrill, &res, func(*pgadmin.Scratch) error {
		return errDrillDone
	})
	if errors.Is(err, errDrillDone) {
		err = nil
	}
	return res, err
}

// RestoreTables restores chosen tables of snap into an existing database, through a scratch
// database, proven by their row counts, all or nothing (tables.go).
func (r *Restorer) RestoreTables(ctx context.Context, snap catalog.Snapshot, opts TablesOptions) (TablesResult, error) {
	return tableRestore{r}.run(ctx, snap, opts)
}

// errDrillDone ends a drill's scratch database like a failure would: it is dropped.
var errDrillDone = errors.New("drill done")

// job is what a restore has ready before it changes anything on the server.
type job struct {
	snap    catalog.Snapshot
	server  dump.Version
	bin     dump.Binary
	objs    []catalog.Snapshot // the snapshot's data objects (parts)
	files   []string           // each one's decoded archive; none with Stream
	decoded time.Duration      // how long decoding took
	props   properties
	opts    Options
	on      conninfo.Info // the server, through any database
	cleanup func()
}

// prepare decodes and checks the snapshot (unless streaming), reads its database's properties,
// and checks versions: everything that can fail before the server is touched.
func (r *Restorer) prepare(ctx context.Context, snap catalog.Snapshot, on conninfo.Info, opts Options) (*job, error) {
	j := &job{snap: snap, objs: snap.Objects(), opts: opts, on: on}
	var cleanups []func()
	j.cleanup = func() {
		for _, c := range cleanups {
			c()
		}
	}
	ok := false
	defer func() {
		if !ok {
			j.cleanup()
		}
	}()
	if opts.Stream {
		if snap.Encrypted {
			if _, err := codec.Identities(r.cfg.AgeIdentityFile, snap.Name, snap.Recipients); err != nil {
				return nil, err // before the target is touched
			}
		}
	} else {
		start := time.Now()
		defer func() { j.decoded = time.Since(start) }()
		for _, o := range j.objs {
			file, cleanup, err := r.ArchiveFile(ctx, o)
			if err != nil {
				return nil, err
			}
			j.files, cleanups = append(j.files, file), append(cleanups, cleanup)
		}
	}
	first := ""
	if len(j.files) > 0 {
		first = j.files[0]
	}
	var err error
	if j.props, err = r.properties(ctx, j.objs[0], first); err != nil {
		return nil, err
	}
	if j.server, err = targetServerVersion(ctx, on); err != nil {
		return nil, fmt.Errorf("connect to restore target: %w", err)
	}
	if j.bin, err = Binary(ctx, snap, j.server, r.cfg.PGBinDir); err != nil {
		return nil, err
	}
	ok = true
	return j, nil
}

// intoScratch creates a scratch database with the source's properties, restores the snapshot
// into it, proves it, recreates the database's own settings, and calls done. Unless done
// succeeds, the scratch database is dropped (a drop that fails is part of the error).
func (r *Restorer) intoScratch(ctx context.Context, j *job, kind string, res *Result, done func(*pgadmin.Scratch) error) (err error) {
	scratch, err := pgadmin.CreateScratch(ctx, j.on, kind, j.props.createOptions(j.opts.NoOwner), r.log)
	if err != nil {
		return j.props.explain(err)
	}
	kept := false
	defer func() {
		if kept {
			scratch.Release(ctx)
			return
		}
		if derr := scratch.Drop(ctx); derr != nil {
			r.log.Error("drop a scratch database", "database", scratch.Name, "err", derr)
			err = fmt.Errorf("%w (and the scratch database %s could not be dropped: %v)", err, scratch.Name, derr)
		}
	}()
	into := j.on.With("dbname", scratch.Name)
	r.log.Info("restoring into a scratch database", "snapshot", j.snap.Name, "scratch_database", scratch.Name, "pg_restore", j.bin.Path, "jobs", j.opts.Jobs, "parts", len(j.objs))
	stages := []any{"decode", j.decoded.Round(time.Millisecond)}
	defer func() {
		if err == nil {
			r.log.Info("restore stages", stages...)
		}
	}()
	step := func(name string, start time.Time) {
		stages = append(stages, name, time.Since(start).Round(time.Millisecond))
	}
	start := time.Now()
	if err := r.restoreParts(ctx, j, into); err != nil {
		return fmt.Errorf("restore %s: %w", j.snap.Name, err)
	}
	step("pg_restore", start)
	start = time.Now()
	if res.Tables, res.Rows, err = r.prove(ctx, j.snap, into, j.opts.Jobs); err != nil {
		return fmt.Errorf("restore %s: %w", j.snap.Name, err)
	}
	step("row_counts", start)
	start = time.Now()
	if err := j.props.apply(ctx, scratch.Conn(), scratch.Name, j.opts.NoOwner); err != nil {
		return fmt.Errorf("restore %s: %w", j.snap.Name, err)
	}
	step("properties", start)
	start = time.Now()
	defer step("swap", start)
	if err := done(scratch); err != nil {
		return err
	}
	kept = true
	return nil
}

// checkOptions parses the target and refuses what can never be a target.
func (r *Restorer) checkOptions(opts *Options) (conninfo.Info, error) {
	if opts.Target == "" {
		return conninfo.Info{}, errors.New("restore: no target database given")
	}
	target, err := opts.Target.Parse()
	if err != nil {
		return conninfo.Info{}, fmt.Errorf("restore target: %w", err)
	}
	switch db := target.Database(); db {
	case "":
		return conninfo.Info{}, fmt.Errorf("restore target %s names no database", target)
	case "template0", "template1", "postgres":
		return conninfo.Info{}, fmt.Errorf("restore target database %q is refused: it is one the server itself relies on; restore into a database of your own", db)
	}
	if opts.Jobs < 1 {
		opts.Jobs = 1
	}
	if opts.Stream {
		opts.Jobs = 1
	}
	return target, nil
}

// prove compares every table's row count in db with the manifest.
func (r *Restorer) prove(ctx context.Context, snap catalog.Snapshot, db conninfo.Info, jobs int) (tables int, rows int64, err error) {
	if snap.Rows == nil {
		r.log.Warn("restored without checking row counts: " + ErrNoRows.Error())
		return 0, 0, nil
	}
	got, err := CountRows(ctx, db, snap.Rows, max(jobs, runtime.GOMAXPROCS(0)))
	if err != nil {
		return 0, 0, err
	}
	if diff := RowDiff(snap.Rows, got); diff != "" {
		return 0, 0, fmt.Errorf("%w: %s", ErrRowsDiffer, diff)
	}
	for _, n := range got {
		rows += n
	}
	return len(got), rows, nil
}

// restoreParts runs pg_restore into db: once for a snapshot of one part; for several, the
// schema before the data from the first part, then the data of every part at once (the jobs
// shared between them), then indexes, constraints and the rest from the first part.
func (r *Restorer) restoreParts(ctx context.Context, j *job, db conninfo.Info) error {
	run := func(ctx context.Context, k int, o dump.RestoreOptions) error {
		o.Conn, o.Binary, o.Server, o.NoOwner, o.Logger = db, j.bin, j.server, j.opts.NoOwner, r.log
		if j.opts.Stream {
			o.Jobs = 1
			return r.restoreStream(ctx, j.objs[k], o)
		}
		o.File = j.files[k]
		return dump.Restore(ctx, o)
	}
	if len(j.objs) == 1 {
		return run(ctx, 0, dump.RestoreOptions{Jobs: j.opts.Jobs})
	}
	if err := run(ctx, 0, dump.RestoreOptions{Jobs: 1, Section: "pre-data"}); err != nil {
		return fmt.Errorf("part 1, before the data: %w", err)
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(j.objs))
	var wg sync.WaitGroup
	for k := range j.objs {
		o := dump.RestoreOptions{Jobs: max(1, j.opts.Jobs/len(j.objs)), Section: "data", DataOnly: k > 0}
		if k > 0 {
			o.Section = ""
		}
		wg.Go(func() {
			if errs[k] = run(dctx, k, o); errs[k] != nil {
				errs[k] = fmt.Errorf("part %d, data: %w", k+1, errs[k])
				cancel()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && (ctx.Err() != nil || !errors.Is(err, context.Canceled)) {
			return err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := run(ctx, 0, dump.RestoreOptions{Jobs: j.opts.Jobs, Section: "post-data"}); err != nil {
		return fmt.Errorf("part 1, after the data: %w", err)
	}
	return nil
}

// ErrRowsDiffer marks a restore whose tables do not hold the manifest's row counts.
var ErrRowsDiffer = errors.New("restored row counts differ from the manifest")

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
