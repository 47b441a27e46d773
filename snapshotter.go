package pgsnap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/store"
)

// archiveMagic starts every pg_dump custom-format archive.
var archiveMagic = []byte("PGDMP")

// cleanupTimeout bounds cleanup work done after the caller's context has ended.
const cleanupTimeout = 10 * time.Second

// SnapshotNow takes one snapshot now (one attempt, no retries), then applies retention. The
// snapshot is named after its start time. It returns the committed snapshot; a retention
// failure is logged, not returned, since the snapshot itself is safe.
func (s *Scheduler) SnapshotNow(ctx context.Context) (Snapshot, error) {
	if s.cfg.DatabaseURL == "" {
		return Snapshot{}, lookupSetting("DATABASE_URL").error("", errors.New("required to take a snapshot"))
	}
	if err := s.Check(ctx); err != nil {
		return Snapshot{}, err
	}
	s.sweep(ctx)
	defer s.runNotifiers(ctx)(true)
	s.notifyStart()
	snap, err := s.attempt(ctx, nil)
	if ctx.Err() == nil {
		s.recordAttempt(snap, err, false)
	}
	if err != nil {
		return Snapshot{}, err
	}
	s.log.Info("snapshot committed", "snapshot", snap.Name, "size", snap.Size, "duration", snap.Duration().Round(time.Millisecond), "stored_in", snap.StoredIn, "missing", snap.Missing)
	s.retain(ctx, snap)
	return snap, nil
}

// SnapshotSlot takes the snapshot of the schedule's latest due slot (at or before now), once:
// for a Kubernetes CronJob or a systemd timer that runs `pgsnap snapshot --slot`. With the same
// lock and already-taken check as Run, an overlapping or retried job never makes a second
// snapshot for a slot: it returns an error wrapping ErrSlotTaken instead. While another pgsnap
// holds the lock it waits (up to SNAPSHOT_TIMEOUT), then checks again. One attempt otherwise
// (no retries).
func (s *Scheduler) SnapshotSlot(ctx context.Context) (Snapshot, error) {
	if s.cfg.DatabaseURL == "" {
		return Snapshot{}, lookupSetting("DATABASE_URL").error("", errors.New("required to take a snapshot"))
	}
	if err := s.Check(ctx); err != nil {
		return Snapshot{}, err
	}
	s.sweep(ctx)
	defer s.runNotifiers(ctx)(true)
	s.notifyStart()
	slot := s.sched.Prev(s.now())
	giveUp := s.now().Add(s.cfg.Timeout) // a holder that hangs is not waited for forever
	for {
		snap, err := s.attempt(ctx, &slot)
		if errors.Is(err, ErrLocked) && s.now().Before(giveUp) {
			delay := s.backoff(1)
			s.log.Info("slot being taken by another pgsnap, waiting", "slot", slot, "retry_in", delay)
			if err := s.sleep(ctx, delay); err != nil {
				return Snapshot{}, err
			}
			continue
		}
		if !errors.Is(err, ErrSlotTaken) && ctx.Err() == nil {
			s.recordAttempt(snap, err, false)
		}
		if err != nil {
			return Snapshot{}, err
		}
		s.log.Info("snapshot committed", "snapshot", snap.Name, "slot", slot, "size", snap.Size, "duration", snap.Duration().Round(time.Millisecond), "stored_in", snap.StoredIn, "missing", snap.Missing)
		s.retain(ctx, snap)
		return snap, nil
	}
}

// takeSnapshot is one attempt: dump to a temporary object, commit it, commit the manifest last.
// On any error nothing new is listed and the temporary object is gone.
func (s *Scheduler) takeSnapshot(ctx context.Context, slot *time.Time) (Snapshot, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	defer unlock()

	started := s.now().UTC().Truncate(time.Second)
	at := started
	if slot != nil {
		at = slot.UTC()
	}
	name := snapshotName(s.target, at)
	if taken, err := s.stored(ctx, name); err != nil {
		return Snapshot{}, err
	} else if taken && slot != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", name, ErrSlotTaken)
	} else if taken {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w (one manual snapshot per second)", name, store.ErrExists)
	}

	info, err := s.cfg.DatabaseURL.parse()
	if err != nil {
		return Snapshot{}, err
	}
	log := s.log.With("snapshot", name)
	dctx, stop := s.withDumpTimeout(ctx, info)
	defer stop()

	// One writer per target: replicas of a service (or several daemons) share the work through
	// the database's own advisory lock. The slot check is repeated under the lock, since the
	// holder may have just committed it.
	// In a Fleet, at most SNAPSHOT_MAX_CONCURRENT dumps run at once. The slot is taken before the
	// lock and given back at once when another pgsnap holds it, so a daemon whose targets are
	// all taken elsewhere moves on to others: N daemons share the work.
	if s.dumpSlots != nil {
		select {
		case s.dumpSlots <- struct{}{}:
			defer func() { <-s.dumpSlots }()
		case <-dctx.Done():
			return Snapshot{}, s.dumpError(dctx, "wait for a dump slot", context.Cause(dctx))
		}
	}
	release, err := targetLock(dctx, info, s.target)
	if err != nil {
		return Snapshot{}, s.dumpError(dctx, "lock", err)
	}
	defer release()
	if taken, _ := s.stored(ctx, name); taken && slot != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", name, ErrSlotTaken)
	}
	if s.globals {
		return s.takeGlobals(dctx, name, started, slot, info, log)
	}

	server, err := dump.ServerVersion(dctx, info)
	if err != nil {
		return Snapshot{}, s.dumpError(dctx, "connect to database", err)
	}
	bin, err := dump.Find(dctx, "pg_dump", server, s.cfg.PGBinDir)
	if err != nil {
		return Snapshot{}, err
	}
	log.Debug("dumping", "pg_dump", bin.Path, "pg_dump_version", bin.Version.String(), "server_version", server.String())

	encoding, err := s.encoding()
	if err != nil {
		return Snapshot{}, err
	}
	key := name + encoding.suffix()
	w, err := s.createOutputs(ctx, key)
	if err != nil {
		return Snapshot{}, err
	}
	defer w.abort() // no-op for committed objects
	// pg_dump writes the archive uncompressed; pgsnap counts its rows and compresses it (on
	// other goroutines, in independent frames), encrypts it, then hashes and stores the result:
	// one pass, nothing written twice, no plaintext on disk when encrypting.
	h := sha256.New()
	s.progress.Begin("snapshot "+name, -1)
	progressDone := sync.OnceFunc(s.progress.End)
	defer progressDone()
	stored := &countingWriter{w: progressWriter{io.MultiWriter(w, h), s.progress}}
	enc, err := encoding.newEncoder(stored)
	if err != nil {
		return Snapshot{}, err
	}
	counter := archive.NewCounter()
	var head headWriter
	archiveSize, err := dump.Dump(dctx, dump.DumpOptions{
		Conn:            info,
		Binary:          bin,
		Server:          server,
		LockWaitTimeout: s.cfg.LockWaitTimeout,
		Args:            append([]string{"--compress=0"}, s.cfg.dumpArgs()...),
		Logger:          log,
	}, io.MultiWriter(enc, counter, &head))
	if err != nil {
		enc.Abort(err) // ends the encoder's goroutines
		return Snapshot{}, s.dumpError(dctx, "dump", s.lockWaitHint(err))
	}
	if err := enc.Close(); err != nil {
		return Snapshot{}, err
	}
	if archiveSize == 0 {
		return Snapshot{}, errors.New("pg_dump exited 0 but wrote nothing")
	}
	if !bytes.HasPrefix(head.b, archiveMagic) {
		return Snapshot{}, errors.New("pg_dump output is not a custom-format archive")
	}
	rows, rowsErr := countedRows(counter)
	if rowsErr != nil {
		log.Warn("row counts unavailable; the snapshot is kept without them", "err", rowsErr)
	}
	if err := w.commit(ctx); err != nil {
		return Snapshot{}, err
	}

	host, _ := os.Hostname()
	snap := Snapshot{
		ManifestVersion: manifestVersion,
		Name:            name,
		Target:          s.target,
		Database:        info.Database(),
		StartedAt:       started,
		FinishedAt:      s.now().UTC(),
		Data:            key,
		Size:            stored.n,
		SHA256:          hex.EncodeToString(h.Sum(nil)),
		Format:          FormatCustom,
		PGDumpVersion:   bin.Version.String(),
		ServerVersion:   server.String(),
		Labels:          s.labels,
		Host:            host,
		PgsnapVersion:   Version(),
		ArchiveSize:     archiveSize,
		Rows:            rows,
	}
	encoding.describe(&snap)
	if slot != nil {
		t := slot.UTC()
		snap.Slot = &t
	}
	progressDone() // the gate reports its own reading
	failpoint("after-data-commit", s.dests[0].st, snap.Data)
	return s.commitEverywhere(ctx, w, snap, log)
}

// commitEverywhere passes the committed data object of each destination through the commit
// gate, then commits the manifest there, last. A destination that fails either step gets no
// snapshot (its data object is removed) and is logged, counted and left to sync; the snapshot
// fails only when no destination has it.
func (s *Scheduler) commitEverywhere(ctx context.Context, w *fanout, snap Snapshot, log *slog.Logger) (Snapshot, error) {
	// The commit gate: only a snapshot whose stored bytes check out gets a manifest.
	gateStart := s.now()
	for _, o := range w.live() {
		in := snap
		in.src = o.d
		if err := s.gate(ctx, in, o.w); err != nil {
			if ctx.Err() != nil {
				// No destination gets a manifest: none keeps a data object that is no snapshot.
				for _, o := range w.live() {
					s.removeData(ctx, o.d, snap.Data)
				}
				return Snapshot{}, ctx.Err()
			}
			s.removeData(ctx, o.d, snap.Data)
			o.fail(fmt.Errorf("commit gate (SNAPSHOT_VERIFY=%s): %w", s.cfg.Verify, err))
		}
	}
	if err := w.err(); err != nil {
		return Snapshot{}, err
	}
	log.Debug("commit gate passed", "verify", s.cfg.Verify, "duration", s.now().Sub(gateStart))
	snap.Destinations = w.results()
	for _, o := range w.live() {
		// A cancel here fails the destinations still waiting for their manifest like any other
		// error: one that has its manifest already holds a committed snapshot, reported as such.
		if err := s.commitManifest(ctx, o.d, snap); err != nil {
			s.removeData(ctx, o.d, snap.Data)
			o.fail(err)
		}
	}
	if err := w.err(); err != nil {
		return Snapshot{}, err
	}
	for _, o := range w.outs {
		if o.err != nil {
			s.stats.destinationFailed(o.d.name)
			log.Error("destination missed the snapshot; it is copied there by the next sync", "destination", o.d.name, "err", o.err)
			snap.Missing = append(snap.Missing, o.d.name)
		} else {
			snap.StoredIn = append(snap.StoredIn, o.d.name)
		}
	}
	snap.src = w.live()[0].d
	return snap, nil
}

// stored reports whether a snapshot's manifest is committed in any destination. A destination
// that cannot tell is skipped, unless none can.
func (s *Scheduler) stored(ctx context.Context, name string) (bool, error) {
	var errs []error
	for _, d := range s.dests {
		_, err := d.st.Stat(ctx, manifestKey(name))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, d.wrap(err))
		}
	}
	if len(errs) == len(s.dests) {
		return false, errors.Join(errs...)
	}
	return false, nil
}

// removeData removes a committed data object that will get no manifest: it is not a snapshot.
// If that fails too, prune removes it once it is provably stale.
func (s *Scheduler) removeData(ctx context.Context, d *destination, key string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := d.st.Delete(cctx, key); err != nil {
		s.log.Warn("remove data object without manifest", "destination", d.name, "object", key, "err", err)
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (s *Scheduler) commitManifest(ctx context.Context, d *destination, snap Snapshot) error {
	b, err := encodeManifest(snap)
	if err != nil {
		return err
	}
	w, err := d.st.Create(ctx, manifestKey(snap.Name))
	if err != nil {
		return d.wrap(err)
	}
	defer w.Abort()
	if _, err := w.Write(b); err != nil {
		return d.wrap(err)
	}
	if err := w.Commit(ctx); err != nil {
		return d.wrap(err)
	}
	return nil
}

// headWriter keeps the first bytes written through it.
type headWriter struct{ b []byte }

func (h *headWriter) Write(p []byte) (int, error) {
	if n := len(archiveMagic) - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

// dumpError explains an error of the dump stage, naming SNAPSHOT_TIMEOUT when it fired.
func (s *Scheduler) dumpError(dctx context.Context, stage string, err error) error {
	var te *TimeoutError
	if errors.As(context.Cause(dctx), &te) && !errors.As(err, new(*TimeoutError)) {
		return fmt.Errorf("%s: %w: %w", stage, te, err)
	}
	return fmt.Errorf("%s: %w", stage, err)
}

// lockWaitHint explains pg_dump's lock-wait timeout, which pg_dump reports as a statement timeout
// on its LOCK TABLE query.
func (s *Scheduler) lockWaitHint(err error) error {
	var ee *dump.ExitError
	if !errors.As(err, &ee) || !strings.Contains(ee.Stderr, "statement timeout") {
		return err
	}
	_, rest, ok := strings.Cut(ee.Stderr, "LOCK TABLE ")
	if !ok {
		return err
	}
	table, _, _ := strings.Cut(rest, " IN ")
	return fmt.Errorf("could not lock table %s within SNAPSHOT_LOCK_WAIT_TIMEOUT (%s): another session holds a conflicting lock: %w",
		table, s.cfg.LockWaitTimeout, err)
}

// countedRows returns a Counter's row counts keyed as manifests hold them: "schema"."table",
// quoted identifiers, unambiguous whatever the names hold.
func countedRows(c *archive.Counter) (map[string]int64, error) {
	counts, err := c.Result()
	if err != nil {
		return nil, err
	}
	rows := make(map[string]int64, len(counts))
	for key, n := range counts {
		t, ok := c.Table(key)
		if !ok {
			return nil, fmt.Errorf("no table behind row count key %q", key)
		}
		rows[quoteIdent(t.Schema)+"."+quoteIdent(t.Name)] = n
	}
	return rows, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
