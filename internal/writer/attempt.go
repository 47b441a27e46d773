package writer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/internal/failpoint"
	"github.com/pgsnap/pgsnap/store"
)

// Attempt is one snapshot being written: Begin starts it, Write takes the archive (or the
// globals SQL) as pg_dump produces it, and exactly one of Commit or Abort ends it. Until its
// manifest is committed nothing of it is listed; an aborted or failed attempt leaves nothing
// behind, and a crashed one leaves only what its intent records let the next run sweep.
type Attempt struct {
	w      *Writer
	ctx    context.Context // for Abort's cleanup after a cancel
	name   string
	key    string
	format string
	spec   codec.Spec
	log    *slog.Logger

	f        *fanout
	hash     hash.Hash
	stored   *codec.CountingWriter // the stored bytes, counted
	enc      *codec.Encoder
	done     bool
	progress func()
}

// Begin starts snapshot name in every destination: its intent record, then its temporary data
// object. A destination that cannot start has failed (it gets the snapshot from Sync later);
// Begin fails only when every destination has, or when the name is taken (store.ErrExists).
// The caller holds the target's writer lock.
func (w *Writer) Begin(ctx context.Context, name, format string) (_ *Attempt, err error) {
	spec, err := w.spec()
	if err != nil {
		return nil, err
	}
	a := &Attempt{w: w, ctx: ctx, name: name, format: format, spec: spec, log: w.o.Log.With("snapshot", name),
		key: catalog.DataKey(name, format, spec.Kind, spec.Encrypted()), f: &fanout{}, hash: sha256.New()}
	defer func() {
		if err != nil {
			a.Abort()
		}
	}()
	for _, d := range w.cat.Destinations() {
		o := &output{d: d}
		a.f.outs = append(a.f.outs, o)
		if err := w.cat.CommitIntent(ctx, d, name, a.key); err != nil {
			if errors.Is(err, store.ErrExists) {
				return nil, err
			}
			o.fail(err)
			continue
		}
		o.intent = true
		sw, err := d.Store.Create(ctx, a.key)
		if errors.Is(err, store.ErrExists) {
			return nil, d.Wrap(err)
		}
		if err != nil {
			o.fail(err)
			continue
		}
		o.w = sw
	}
	if err := a.f.err(); err != nil {
		return nil, err
	}
	w.o.Progress.Begin("snapshot "+name, -1)
	a.progress = sync.OnceFunc(w.o.Progress.End)
	a.stored = &codec.CountingWriter{W: progressWriter{io.MultiWriter(a.f, a.hash), w.o.Progress}}
	if a.enc, err = codec.NewEncoder(a.stored, spec); err != nil {
		return nil, err
	}
	return a, nil
}

// Write encodes archive bytes (compression on other goroutines, then encryption), hashes them
// and hands them to every destination still on track.
func (a *Attempt) Write(p []byte) (int, error) { return a.enc.Write(p) }

// Meta is what the dump tells about the snapshot: everything in the manifest but what the
// attempt knows itself (name, data, size, SHA-256, encoding, destinations).
type Meta = catalog.Snapshot

// Commit ends the snapshot: flushes the encoder, commits the data object in every destination,
// passes each through the commit gate, then commits the manifest there, last, and drops the
// intent records. A destination that fails a step gets no snapshot (its data object is removed)
// and is logged and left to Sync; Commit fails only when no destination has the snapshot. The
// snapshot returned says where it is stored (StoredIn) and where not (Missing).
func (a *Attempt) Commit(ctx context.Context, meta Meta) (catalog.Snapshot, error) {
	if err := a.enc.Close(); err != nil {
		return catalog.Snapshot{}, err
	}
	if err := a.f.commit(ctx); err != nil {
		return catalog.Snapshot{}, err
	}
	a.progress() // the gate reports its own reading
	snap := meta
	snap.ManifestVersion = catalog.ManifestVersion
	snap.Name, snap.Data, snap.Format = a.name, a.key, a.format
	snap.Size, snap.SHA256 = a.stored.N, hex.EncodeToString(a.hash.Sum(nil))
	snap.Compression, snap.CompressionLevel = a.spec.Kind, a.spec.LevelName()
	if a.spec.Kind == codec.Zstd {
		snap.ChunkSize = int64(a.spec.Chunk())
	}
	if a.spec.Encrypted() {
		snap.Encrypted, snap.Encryption, snap.Recipients = true, codec.Age, a.w.cfg.AgeRecipients
	}
	if snap.Host == "" {
		snap.Host, _ = os.Hostname()
	}
	failpoint.Hit("after-data-commit", a.f.outs[0].d.Store, a.key)

	// The commit gate: only a snapshot whose stored bytes check out gets a manifest.
	gateStart := a.w.o.Now()
	for _, o := range a.f.live() {
		if err := a.w.gate(ctx, snap, o.d, o.w); err != nil {
			if ctx.Err() != nil {
				return catalog.Snapshot{}, ctx.Err() // Abort removes every unmanifested object
			}
			o.fail(fmt.Errorf("commit gate (SNAPSHOT_VERIFY=%s): %w", a.w.cfg.Verify, err))
		}
	}
	if err := a.f.err(); err != nil {
		return catalog.Snapshot{}, err
	}
	a.log.Debug("commit gate passed", "verify", a.w.cfg.Verify, "duration", a.w.o.Now().Sub(gateStart))
	failpoint.Hit("before-manifest")
	snap.Destinations = a.f.results()
	for _, o := range a.f.live() {
		// A cancel here fails the destinations still waiting for their manifest like any other
		// error: one that has its manifest already holds a committed snapshot, reported as such.
		if err := a.w.cat.CommitManifest(ctx, o.d, snap); err != nil {
			o.fail(err)
			continue
		}
		failpoint.Hit("after-manifest")
		o.data = false // committed: nothing to remove
		a.w.cat.EndWrite(ctx, o.d, a.name, a.key, false)
		o.intent = false
	}
	a.done = true
	a.cleanup()
	if err := a.f.err(); err != nil {
		return catalog.Snapshot{}, err
	}
	for _, o := range a.f.outs {
		if o.err != nil {
			a.log.Error("destination missed the snapshot; it is copied there by the next sync", "destination", o.d.Name, "err", o.err)
			snap.Missing = append(snap.Missing, o.d.Name)
		} else {
			snap.StoredIn = append(snap.StoredIn, o.d.Name)
		}
	}
	return snap, nil
}

// Abort throws the attempt away: the encoder's goroutines end, temporary objects are aborted,
// committed data objects without a manifest and intent records are removed (also after the
// attempt's context ended). It is a no-op after Commit.
func (a *Attempt) Abort() {
	if a.enc != nil {
		a.enc.Abort(errors.New("snapshot aborted"))
	}
	a.done = true
	a.cleanup()
}

// cleanup ends every destination that got no manifest.
func (a *Attempt) cleanup() {
	if a.progress != nil {
		a.progress()
	}
	for _, o := range a.f.outs {
		if o.w != nil {
			o.w.Abort() // no-op once committed
		}
		if o.intent {
			a.w.cat.EndWrite(a.ctx, o.d, a.name, a.key, o.data)
			o.intent, o.data = false, false
		}
	}
}

// progressWriter counts bytes written through it into a Progress.
type progressWriter struct {
	w io.Writer
	p catalog.Progress
}

func (pw progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.Add(int64(n))
	return n, err
}
