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

// Attempt is one snapshot being written: Begin starts it, each Part takes one stream of the
// archive (or the globals SQL) as pg_dump produces it, and exactly one of Commit or Abort ends
// it. Until its manifest is committed nothing of it is listed; an aborted or failed attempt
// leaves nothing behind, and a crashed one leaves only what its intent records let the next run
// sweep.
type Attempt struct {
	w      *Writer
	ctx    context.Context // for Abort's cleanup after a cancel
	name   string
	format string
	spec   codec.Spec
	log    *slog.Logger

	dests    []*dest   // one per destination, in order
	parts    []*stream // one per pg_dump stream
	progress func()
	// mu serialises the parts' writes to the destinations, and what a failed write changes.
	mu sync.Mutex
}

// dest is one destination's side of an attempt.
type dest struct {
	d      *catalog.Destination
	intent bool  // its intent record is committed
	err    error // why it does not get the snapshot; nil while it is on track
}

// stream is one data object (part) being written to every destination.
type stream struct {
	key    string
	outs   []store.Writer // per destination; nil where it failed
	data   []bool         // per destination: committed
	hash   hash.Hash
	stored *codec.CountingWriter // the stored bytes, counted
	enc    *codec.Encoder
	a      *Attempt
}

// Begin starts snapshot name of parts streams in every destination: its intent record (naming
// every data object), then a temporary object per part. A destination that cannot start has
// failed (it gets the snapshot from Sync later); Begin fails only when every destination has,
// or when the name is taken (store.ErrExists). The caller holds the target's writer lock.
func (w *Writer) Begin(ctx context.Context, name, format string, parts int) (_ *Attempt, err error) {
	spec, err := w.spec()
	if err != nil {
		return nil, err
	}
	a := &Attempt{w: w, ctx: ctx, name: name, format: format, spec: spec, log: w.o.Log.With("snapshot", name)}
	defer func() {
		if err != nil {
			a.Abort()
		}
	}()
	keys := make([]string, max(parts, 1))
	for i := range keys {
		keys[i] = catalog.PartKey(name, i+1, format, spec.Kind, spec.Encrypted())
	}
	for _, d := range w.cat.Destinations() {
		a.dests = append(a.dests, &dest{d: d})
	}
	for _, key := range keys {
		a.parts = append(a.parts, &stream{key: key, a: a, outs: make([]store.Writer, len(a.dests)), data: make([]bool, len(a.dests)), hash: sha256.New()})
	}
	for i, ds := range a.dests {
		if err := w.cat.CommitIntent(ctx, ds.d, name, keys); err != nil {
			if errors.Is(err, store.ErrExists) {
				return nil, err
			}
			a.fail(i, err)
			continue
		}
		ds.intent = true
		for _, p := range a.parts {
			sw, err := ds.d.Store.Create(ctx, p.key)
			if errors.Is(err, store.ErrExists) {
				return nil, ds.d.Wrap(err)
			}
			if err != nil {
				a.fail(i, err)
				break
			}
			p.outs[i] = sw
		}
	}
	if err := a.err(); err != nil {
		return nil, err
	}
	w.o.Progress.Begin("snapshot "+name, -1)
	a.progress = sync.OnceFunc(w.o.Progress.End)
	var mu sync.Mutex // one progress for every part
	for _, p := range a.parts {
		p.stored = &codec.CountingWriter{W: progressWriter{io.MultiWriter(fanout{p}, p.hash), w.o.Progress, &mu}}
		if p.enc, err = codec.NewEncoder(p.stored, spec); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Part is the writer of stream n (from 0): write the archive to it. Parts are written from one
// goroutine each.
func (a *Attempt) Part(n int) io.Writer { return a.parts[n].enc }

// Write writes to the only part of a one-stream attempt.
func (a *Attempt) Write(p []byte) (int, error) { return a.parts[0].enc.Write(p) }

// fanout hands one part's stored bytes to every destination still on track. A destination
// whose write fails drops out (its error kept, its temporary objects aborted) and the others go
// on; writing fails only when every destination has failed.
type fanout struct{ p *stream }

func (f fanout) Write(b []byte) (int, error) {
	a := f.p.a
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, w := range f.p.outs {
		if w == nil || a.dests[i].err != nil {
			continue
		}
		if _, err := w.Write(b); err != nil {
			a.fail(i, err)
		}
	}
	if err := a.err(); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Meta is what the dump tells about the snapshot: everything in the manifest but what the
// attempt knows itself (name, data, sizes, SHA-256, encoding, destinations). Its Parts give
// each part's ArchiveSize and Tables.
type Meta = catalog.Snapshot

// Commit ends the snapshot: flushes the encoders, commits the data objects in every
// destination, passes each through the commit gate, then commits the manifest there, last, and
// drops the intent records. A destination that fails a step gets no snapshot (its data objects
// are removed) and is logged and left to Sync; Commit fails only when no destination has the
// snapshot. The snapshot returned says where it is stored (StoredIn) and where not (Missing).
func (a *Attempt) Commit(ctx context.Context, meta Meta) (catalog.Snapshot, error) {
	for _, p := range a.parts {
		if err := p.enc.Close(); err != nil {
			return catalog.Snapshot{}, err
		}
	}
	for _, p := range a.parts {
		for i, w := range p.outs {
			if w == nil || a.dests[i].err != nil {
				continue
			}
			if err := w.Commit(ctx); err != nil {
				if ctx.Err() != nil {
					return catalog.Snapshot{}, ctx.Err()
				}
				a.fail(i, err)
				continue
			}
			p.data[i] = true
		}
	}
	if err := a.err(); err != nil {
		return catalog.Snapshot{}, err
	}
	a.progress() // the gate reports its own reading
	snap := a.manifest(meta)
	failpoint.Hit("after-data-commit", a.dests[0].d.Store, a.parts[0].key)

	// The commit gate: only a snapshot whose stored bytes check out gets a manifest.
	gateStart := a.w.o.Now()
	for i, ds := range a.dests {
		for k, o := range snap.Objects() {
			if ds.err != nil {
				break
			}
			if err := a.w.gate(ctx, o, ds.d, a.parts[k].outs[i]); err != nil {
				if ctx.Err() != nil {
					return catalog.Snapshot{}, ctx.Err() // Abort removes every unmanifested object
				}
				a.fail(i, fmt.Errorf("commit gate (SNAPSHOT_VERIFY=%s): %w", a.w.cfg.Verify, err))
			}
		}
	}
	if err := a.err(); err != nil {
		return catalog.Snapshot{}, err
	}
	a.log.Debug("commit gate passed", "verify", a.w.cfg.Verify, "duration", a.w.o.Now().Sub(gateStart))
	failpoint.Hit("before-manifest")
	snap.Destinations = a.results()
	for i, ds := range a.dests {
		if ds.err != nil {
			continue
		}
		// A cancel here fails the destinations still waiting for their manifest like any other
		// error: one that has its manifest already holds a committed snapshot, reported as such.
		if err := a.w.cat.CommitManifest(ctx, ds.d, snap); err != nil {
			a.fail(i, err)
			continue
		}
		failpoint.Hit("after-manifest")
		for _, p := range a.parts {
			p.data[i] = false // committed: nothing to remove
		}
		a.w.cat.EndWrite(ctx, ds.d, a.name, a.keys(), false)
		ds.intent = false
	}
	a.cleanup()
	if err := a.err(); err != nil {
		return catalog.Snapshot{}, err
	}
	for _, ds := range a.dests {
		if ds.err != nil {
			a.log.Error("destination missed the snapshot; it is copied there by the next sync", "destination", ds.d.Name, "err", ds.err)
			snap.Missing = append(snap.Missing, ds.d.Name)
		} else {
			snap.StoredIn = append(snap.StoredIn, ds.d.Name)
		}
	}
	return snap, nil
}

// manifest is meta with what the attempt knows: names, sizes and checksums, the encoding.
func (a *Attempt) manifest(meta Meta) catalog.Snapshot {
	snap := meta
	snap.ManifestVersion = catalog.ManifestVersion
	snap.Name, snap.Format = a.name, a.format
	snap.Data, snap.Size, snap.SHA256 = a.parts[0].key, a.parts[0].stored.N, hex.EncodeToString(a.parts[0].hash.Sum(nil))
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
	if len(a.parts) > 1 {
		parts := make([]catalog.Part, len(a.parts))
		for k, p := range a.parts {
			parts[k] = catalog.Part{Data: p.key, Size: p.stored.N, SHA256: hex.EncodeToString(p.hash.Sum(nil))}
			if k < len(meta.Parts) {
				parts[k].ArchiveSize, parts[k].Tables = meta.Parts[k].ArchiveSize, meta.Parts[k].Tables
			}
		}
		snap.Parts = parts
		snap.ArchiveSize = parts[0].ArchiveSize
	}
	return snap
}

// Abort throws the attempt away: the encoders' goroutines end, temporary objects are aborted,
// committed data objects without a manifest and intent records are removed (also after the
// attempt's context ended). It is a no-op after Commit.
func (a *Attempt) Abort() {
	for _, p := range a.parts {
		if p.enc != nil {
			p.enc.Abort(errors.New("snapshot aborted"))
		}
	}
	a.cleanup()
}

// cleanup ends every destination that got no manifest.
func (a *Attempt) cleanup() {
	if a.progress != nil {
		a.progress()
	}
	for i, ds := range a.dests {
		removeData := false
		for _, p := range a.parts {
			if p.outs[i] != nil {
				p.outs[i].Abort() // no-op once committed
			}
			removeData = removeData || p.data[i]
			p.data[i] = false
		}
		if ds.intent {
			a.w.cat.EndWrite(a.ctx, ds.d, a.name, a.keys(), removeData)
			ds.intent = false
		}
	}
}

// fail drops destination i from the attempt after err, aborting its temporary objects.
func (a *Attempt) fail(i int, err error) {
	ds := a.dests[i]
	if ds.err != nil {
		return
	}
	ds.err = ds.d.Wrap(err)
	for _, p := range a.parts {
		if p.outs[i] != nil {
			p.outs[i].Abort()
		}
	}
}

// err is nil while one destination is on track, else every destination's error.
func (a *Attempt) err() error {
	var errs []error
	for _, ds := range a.dests {
		if ds.err == nil {
			return nil
		}
		errs = append(errs, ds.err)
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return fmt.Errorf("every destination failed: %w", errors.Join(errs...))
}

// results reports each destination's outcome, for the manifest.
func (a *Attempt) results() []catalog.DestinationResult {
	out := make([]catalog.DestinationResult, len(a.dests))
	for i, ds := range a.dests {
		out[i] = catalog.DestinationResult{Name: ds.d.Name, OK: ds.err == nil}
		if ds.err != nil {
			out[i].Error = ds.err.Error()
		}
	}
	return out
}

func (a *Attempt) keys() []string {
	keys := make([]string, len(a.parts))
	for i, p := range a.parts {
		keys[i] = p.key
	}
	return keys
}

// progressWriter counts bytes written through it into a Progress.
type progressWriter struct {
	w  io.Writer
	p  catalog.Progress
	mu *sync.Mutex
}

func (pw progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.mu.Lock()
	pw.p.Add(int64(n))
	pw.mu.Unlock()
	return n, err
}

// failed is err, for the writer's goroutine once the parts' writers have stopped.
func (a *Attempt) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err()
}
