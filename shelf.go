package pgsnap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/httpapi"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/restore"
	"github.com/pgsnap/pgsnap/internal/verify"
)

// Shelf is a handle on the snapshots a configuration names, for everything but taking them on
// a schedule: list, find, verify, drill, restore, prune, pin and sync, and the status a
// terminal or a monitoring check reads. A Go program that only lists or restores opens one;
// it touches neither database nor store until a method is called. A Scheduler has one too.
type Shelf struct {
	cfg    Config
	o      options
	target string // "" when the configuration names none: store-wide commands only
	log    *slog.Logger
	cat    *catalog.Catalog
	res    *restore.Restorer
	ver    *verify.Verifier
}

// Open checks cfg and returns a handle on its snapshots. DATABASE_URL is needed only to prune a
// target's leftovers (its writer lock proves no snapshot of it is being written) and for drills.
func Open(cfg Config, opts ...Option) (*Shelf, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return open(cfg, buildOptions(opts))
}

func open(cfg Config, o options) (*Shelf, error) {
	if len(cfg.Labels) > 0 {
		labels := maps.Clone(cfg.Labels)
		maps.Copy(labels, o.labels) // WithLabels wins
		o.labels = labels
	}
	sh := &Shelf{cfg: cfg, o: o, log: o.log}
	// A target is needed to name snapshots; without DATABASE_URL and SNAPSHOT_TARGET only
	// store-wide commands (list, restore by name) work.
	if t, err := cfg.TargetName(); err == nil {
		sh.target = t
		sh.log = sh.log.With("target", t)
	}
	dests := o.dests
	if len(dests) == 0 {
		var err error
		if dests, err = catalog.Destinations(cfg, sh.log); err != nil {
			return nil, err
		}
	}
	sh.cat = catalog.New(dests, catalog.Options{
		Target: sh.target, Policy: cfg.Policy, IdentityFile: cfg.AgeIdentityFile,
		Log: sh.log, Now: o.now, Progress: o.progress,
	})
	sh.res = restore.New(cfg, sh.cat, sh.log)
	sh.ver = verify.New(cfg, sh.cat, sh.res, sh.log, o.now)
	return sh, nil
}

// Target is the name of the database the configuration protects ("" when none is configured).
func (sh *Shelf) Target() string { return sh.target }

// Config returns the configuration the handle was opened with.
func (sh *Shelf) Config() Config { return sh.cfg }

// Check verifies that snapshots can be written: each destination's location exists (or is
// created, private) and accepts a write. With several destinations, one that fails is logged and
// left to catch up later (Sync); Check fails only when none works.
func (sh *Shelf) Check(ctx context.Context) error { return sh.cat.Check(ctx) }

// List returns every complete snapshot in any destination, of any target, newest first, with
// where each is stored and missing, its latest drill and verification, its pin, and why it is
// damaged if it is. A manifest that cannot be read is logged and left out, never deleted.
func (sh *Shelf) List(ctx context.Context) ([]Snapshot, error) { return sh.cat.List(ctx) }

// Find returns the snapshot with the given name, or with name "latest" the newest snapshot of
// the target (of any target when none is configured).
func (sh *Shelf) Find(ctx context.Context, name string) (Snapshot, error) {
	return sh.cat.Find(ctx, name)
}

// FindLabeled returns the newest snapshot of the target (of any target when none is
// configured) whose labels include every pair of want.
func (sh *Shelf) FindLabeled(ctx context.Context, want map[string]string) (Snapshot, error) {
	return sh.cat.FindLabeled(ctx, want)
}

// Verify checks one snapshot: quick (the stored bytes against the manifest, the zstd frames
// whole, the archive's table of contents readable by pg_restore), and with opts the full read
// and the restore drill. The error says what failed; a damaged snapshot is a *CorruptError.
// Its verdict is recorded beside the snapshot: retention never counts a damaged one.
func (sh *Shelf) Verify(ctx context.Context, snap Snapshot, opts VerifyOptions) VerifyResult {
	return sh.ver.Verify(ctx, snap, opts)
}

// DrillSnapshot restores snap into a scratch database (a unique pgsnap_drill_* name on the
// source server, or on SNAPSHOT_DRILL_URL's), compares every table's row count with the
// manifest, drops the scratch database whatever happened, and stores the result beside the
// snapshot. The returned error is the drill's failure, if any.
func (sh *Shelf) DrillSnapshot(ctx context.Context, snap Snapshot) (Drill, error) {
	return sh.ver.Drill(ctx, snap)
}

// Restore restores the named snapshot ("latest" for the newest) into opts.Target; see RestoreTo.
func (sh *Shelf) Restore(ctx context.Context, name string, opts RestoreOptions) (Snapshot, error) {
	res, err := sh.RestoreTo(ctx, name, opts)
	return res.Snapshot, err
}

// RestoreTo restores the named snapshot ("latest" for the newest) into opts.Target, and never
// destroys what the target holds before the replacement is proven. The stored bytes are checked
// against the manifest before anything connects to the target; the snapshot is restored into a
// scratch database created with the source database's properties, and every table's row count
// compared with the manifest; only then is an existing target renamed aside, the restored
// database renamed into its place and the old one dropped (kept with opts.KeepOld). On any
// failure the target is as it was. A target with user tables is refused without opts.Clean,
// the snapshot's own source database without opts.Force.
func (sh *Shelf) RestoreTo(ctx context.Context, name string, opts RestoreOptions) (RestoreResult, error) {
	snap, err := sh.Find(ctx, name)
	if err != nil {
		return RestoreResult{}, err
	}
	return sh.res.Restore(ctx, snap, opts)
}

// Prune applies retention to the target in each destination: it keeps what the policy keeps
// among the good snapshots (never the newest good one) and deletes the others, manifest first,
// skipping a snapshot another process is reading. When it can take the target's writer lock
// (DATABASE_URL is set and no snapshot is being written), it first removes what crashed writers
// left. With dryRun it only reports.
func (sh *Shelf) Prune(ctx context.Context, dryRun bool) ([]PruneDecision, error) {
	return sh.prune(ctx, sh.cat, dryRun)
}

func (sh *Shelf) prune(ctx context.Context, cat *catalog.Catalog, dryRun bool) ([]PruneDecision, error) {
	if !dryRun {
		if release := sh.tryWriterLock(ctx); release != nil {
			cat.SweepTarget(ctx)
			release()
		}
	}
	return cat.Prune(ctx, dryRun)
}

// Pin keeps a snapshot whatever the retention policy says, in every destination that holds it,
// until Unpin. The mark is an object beside the snapshot: manifests never change.
func (sh *Shelf) Pin(ctx context.Context, name string) error {
	return sh.cat.SetPin(ctx, name, true, "pinned by hand")
}

// Unpin lets retention decide about a pinned snapshot again.
func (sh *Shelf) Unpin(ctx context.Context, name string) error {
	return sh.cat.SetPin(ctx, name, false, "")
}

// Sync completes incomplete snapshots: each good snapshot of the target that retention keeps
// and that a destination lacks is copied there from one that holds it, checked on the way,
// passed through the commit gate, and given its manifest last. Nothing is dumped again.
func (sh *Shelf) Sync(ctx context.Context) ([]SyncCopy, error) {
	if release := sh.tryWriterLock(ctx); release != nil {
		defer release()
		sh.cat.SweepTarget(ctx) // a destination that failed mid-write may hold its leftovers
	}
	return sh.cat.Sync(ctx, sh.ver.Gate)
}

// tryWriterLock takes the target's writer lock when DATABASE_URL allows and no other process
// holds it; nil otherwise.
func (sh *Shelf) tryWriterLock(ctx context.Context) (release func()) {
	if sh.cfg.DatabaseURL == "" || sh.target == "" {
		return nil
	}
	info, err := sh.cfg.DatabaseURL.Parse()
	if err != nil {
		return nil
	}
	release, err = catalog.WriterLock(ctx, info, sh.target)
	if err != nil {
		if !errors.Is(err, catalog.ErrLocked) && ctx.Err() == nil {
			sh.log.Warn("no writer lock: crashed writers' leftovers are left for the next snapshot", "err", err)
		}
		return nil
	}
	return release
}

// Status describes the target from its store: the newest snapshots, each destination, and the
// freshness verdict a terminal or a monitoring check reads. A running Scheduler's Status adds
// its own counts.
func (sh *Shelf) Status(ctx context.Context) (httpapi.Status, error) {
	snaps, err := sh.cat.ListTarget(ctx)
	return sh.status(Stats{}, false, snaps, err), ctx.Err()
}

// Tool is a PostgreSQL client program pgsnap would run.
type Tool struct {
	Path    string
	Version string
	// Server is the version of the server it was chosen for ("" when no DATABASE_URL).
	Server string
}

// PGDump finds the pg_dump a snapshot would use: with DATABASE_URL, the one matching that
// server's version (SNAPSHOT_PG_BIN_DIR, /usr/lib/postgresql/<major>/bin, then PATH).
func (sh *Shelf) PGDump(ctx context.Context) (Tool, error) {
	var server dump.Version
	var t Tool
	if sh.cfg.DatabaseURL != "" {
		info, err := sh.cfg.DatabaseURL.Parse()
		if err != nil {
			return t, err
		}
		if server, err = dump.ServerVersion(ctx, info); err != nil {
			return t, fmt.Errorf("server version: %w", err)
		}
		t.Server = server.String()
	}
	bin, err := dump.Find(ctx, "pg_dump", server, sh.cfg.PGBinDir)
	if err != nil {
		return t, err
	}
	t.Path, t.Version = bin.Path, bin.Version.String()
	return t, nil
}
