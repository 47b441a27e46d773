// Package writer writes snapshots: the path pg_dump stream -> row counter -> zstd frames -> age
// -> SHA-256 -> every destination -> commit gate -> manifest, with an explicit lifecycle (Begin,
// then Commit or Abort; see Attempt). It takes the target's writer lock from its caller, who
// decides when a snapshot is due.
package writer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/pgadmin"
	"github.com/pgsnap/pgsnap/internal/settings"
)

// archiveMagic starts every pg_dump custom-format archive.
var archiveMagic = []byte("PGDMP")

// Options are the writer's collaborators.
type Options struct {
	Log      *slog.Logger
	Now      func() time.Time
	Progress catalog.Progress
	Labels   map[string]string
	Version  string // pgsnap's, for manifests
}

// Writer writes the snapshots of one target into its catalog's destinations.
type Writer struct {
	cfg  settings.Config
	cat  *catalog.Catalog
	gate catalog.Gate
	o    Options
}

// New is the writer of cfg's target into cat, passing each snapshot through gate before its
// manifest is committed.
func New(cfg settings.Config, cat *catalog.Catalog, gate catalog.Gate, o Options) *Writer {
	if o.Progress == nil {
		o.Progress = catalog.NoProgress{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Writer{cfg: cfg, cat: cat, gate: gate, o: o}
}

// spec is how the next snapshot is stored, from the configuration.
func (w *Writer) spec() (codec.Spec, error) {
	spec, err := codec.ParseCompression(w.cfg.Compression)
	if err != nil {
		return codec.Spec{}, settings.Lookup("SNAPSHOT_COMPRESSION").Problem(w.cfg.Compression, err)
	}
	if spec.Recipients, err = codec.ParseRecipients(w.cfg.AgeRecipients); err != nil {
		return codec.Spec{}, settings.Lookup("SNAPSHOT_AGE_RECIPIENTS").Problem("", err)
	}
	spec.Threads = w.cfg.CompressionThreads
	return spec, nil
}

// Snapshot dumps the database of info with pg_dump into a new snapshot called name, started
// at started, for slot (nil for a manual one). pg_dump writes the archive uncompressed; the
// attempt counts its rows and compresses it (on other goroutines, in independent frames),
// encrypts it, then hashes and stores the result: one pass, nothing written twice, no
// plaintext on disk when encrypting. The caller holds the target's writer lock and bounds ctx
// with SNAPSHOT_TIMEOUT (WithTimeout).
func (w *Writer) Snapshot(ctx context.Context, info conninfo.Info, name string, started time.Time, slot *time.Time) (catalog.Snapshot, error) {
	log := w.o.Log.With("snapshot", name)
	server, err := dump.ServerVersion(ctx, info)
	if err != nil {
		return catalog.Snapshot{}, Stage(ctx, "connect to database", err)
	}
	bin, err := dump.Find(ctx, "pg_dump", server, w.cfg.PGBinDir)
	if err != nil {
		return catalog.Snapshot{}, tag(ctx, "find pg_dump", CauseConfig, "", err)
	}
	log.Debug("dumping", "pg_dump", bin.Path, "pg_dump_version", bin.Version.String(), "server_version", server.String())
	if w.cfg.DumpJobs > 1 {
		p, err := w.plan(ctx, info, w.cfg.DumpJobs, log)
		if err != nil {
			return catalog.Snapshot{}, err
		}
		if p != nil {
			defer p.release()
			return w.snapshotParts(ctx, info, name, started, slot, bin, server, p)
		}
	}
	a, err := w.Begin(ctx, name, catalog.FormatCustom, 1)
	if err != nil {
		return catalog.Snapshot{}, tag(ctx, "store", CauseStorage, storeFailed, err)
	}
	defer a.Abort() // no-op once committed
	counter := archive.NewCounter()
	var head headWriter
	archiveSize, err := dump.Dump(ctx, dump.DumpOptions{
		Conn:            info,
		Binary:          bin,
		Server:          server,
		LockWaitTimeout: w.cfg.LockWaitTimeout,
		Args:            append([]string{"--compress=0"}, w.cfg.DumpArgs()...),
		Logger:          log,
	}, io.MultiWriter(a, counter, &head))
	if err != nil {
		if ctx.Err() == nil && a.failed() != nil {
			// pg_dump was stopped because no destination took its output.
			return catalog.Snapshot{}, &CauseError{Cause: CauseStorage, Summary: storeFailed, Err: err}
		}
		return catalog.Snapshot{}, Stage(ctx, "dump", w.lockWaitHint(err))
	}
	if archiveSize == 0 {
		return catalog.Snapshot{}, &CauseError{Cause: CauseDump, Err: errors.New("pg_dump exited 0 but wrote nothing")}
	}
	if !bytes.HasPrefix(head.b, archiveMagic) {
		return catalog.Snapshot{}, &CauseError{Cause: CauseDump, Err: errors.New("pg_dump output is not a custom-format archive")}
	}
	rows, rowsErr := catalog.CountedRows(counter)
	if rowsErr != nil {
		log.Warn("row counts unavailable; the snapshot is kept without them", "err", rowsErr)
	}
	meta := w.meta(info, name, started, slot, bin.Version, server, archiveSize, rows)
	meta.SystemIdentifier = pgadmin.SystemIDOf(ctx, info)
	snap, err := a.Commit(ctx, meta)
	return snap, commitFailed(ctx, err)
}

// storeFailed is the summary of a failure of every destination.
const storeFailed = "could not store the snapshot"

// commitFailed sorts an error of Attempt.Commit: a snapshot the commit gate found damaged, or
// destinations that could not commit it.
func commitFailed(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return Stage(ctx, "commit", err)
	case errors.As(err, new(*catalog.CorruptError)):
		return &CauseError{Cause: CauseCorruption, Summary: "the stored snapshot failed its commit gate", Err: err}
	}
	return tag(ctx, "commit", CauseStorage, storeFailed, err)
}

// Globals dumps the roles and tablespaces of info's server with pg_dumpall --globals-only into a
// new globals snapshot, through the same encoder, destinations, commit gate and manifest as a
// database snapshot. Its data is secret (password hashes): private like every object, and
// encrypted when age recipients are set.
func (w *Writer) Globals(ctx context.Context, info conninfo.Info, name string, started time.Time, slot *time.Time) (catalog.Snapshot, error) {
	server, err := dump.ServerVersion(ctx, info)
	if err != nil {
		return catalog.Snapshot{}, Stage(ctx, "connect to server", err)
	}
	bin, err := dump.Find(ctx, "pg_dumpall", server, w.cfg.PGBinDir)
	if err != nil {
		return catalog.Snapshot{}, tag(ctx, "find pg_dumpall", CauseConfig, "", err)
	}
	a, err := w.Begin(ctx, name, catalog.FormatGlobals, 1)
	if err != nil {
		return catalog.Snapshot{}, tag(ctx, "store", CauseStorage, storeFailed, err)
	}
	defer a.Abort()
	n, err := dump.Globals(ctx, dump.GlobalsOptions{Conn: info, Binary: bin, Server: server, Logger: a.log}, a)
	if err != nil {
		if ctx.Err() == nil && a.failed() != nil {
			return catalog.Snapshot{}, &CauseError{Cause: CauseStorage, Summary: storeFailed, Err: err}
		}
		return catalog.Snapshot{}, Stage(ctx, "pg_dumpall --globals-only", err)
	}
	meta := w.meta(info, name, started, slot, bin.Version, server, n, nil)
	meta.Database = ""
	snap, err := a.Commit(ctx, meta)
	return snap, commitFailed(ctx, err)
}

func (w *Writer) meta(info conninfo.Info, name string, started time.Time, slot *time.Time, pgDump, server dump.Version, size int64, rows map[string]int64) Meta {
	m := Meta{
		Name: name, Target: w.cat.Target(), Database: info.Database(),
		StartedAt: started.UTC(), FinishedAt: w.o.Now().UTC(),
		PGDumpVersion: pgDump.String(), ServerVersion: server.String(),
		Labels: maps.Clone(w.o.Labels), PgsnapVersion: w.o.Version, ArchiveSize: size, Rows: rows,
	}
	if slot != nil {
		t := slot.UTC()
		m.Slot = &t
	}
	return m
}

// headWriter keeps the first bytes written through it.
type headWriter struct{ b []byte }

func (h *headWriter) Write(p []byte) (int, error) {
	if n := len(archiveMagic) - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

// lockWaitHint explains pg_dump's lock-wait timeout, which pg_dump reports as a statement timeout
// on its LOCK TABLE query.
func (w *Writer) lockWaitHint(err error) error {
	var ee *dump.ExitError
	if !errors.As(err, &ee) || !strings.Contains(ee.Stderr, "statement timeout") {
		return err
	}
	_, rest, ok := strings.Cut(ee.Stderr, "LOCK TABLE ")
	if !ok {
		return err
	}
	table, _, _ := strings.Cut(rest, " IN ")
	return &CauseError{Cause: CauseLockWait, Err: err,
		Summary: fmt.Sprintf("could not lock table %s within SNAPSHOT_LOCK_WAIT_TIMEOUT (%s): another session holds a conflicting lock",
			table, w.cfg.LockWaitTimeout)}
}
