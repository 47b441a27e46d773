package pgsnap

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pgsnap/pgsnap/store"
)

// SyncCopy is one snapshot copied, or not, to a destination that lacked it.
type SyncCopy struct {
	Snapshot    string `json:"snapshot"`
	Destination string `json:"destination"`
	Error       string `json:"error,omitempty"`
}

// Sync completes incomplete snapshots: each snapshot of this target that retention keeps and
// that a destination lacks is copied there from a destination that holds it, checked against
// its manifest on the way, committed, passed through the commit gate, and given its manifest
// last, as if written there first. Nothing is dumped again. A destination that cannot be listed
// is skipped (it stays incomplete); the error reports every copy that failed.
func (s *Scheduler) Sync(ctx context.Context) ([]SyncCopy, error) {
	if len(s.dests) < 2 || s.target == "" {
		return nil, nil
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.sync(ctx)
}

func (s *Scheduler) sync(ctx context.Context) ([]SyncCopy, error) {
	cat, err := s.catalog(ctx, s.target)
	if err != nil {
		return nil, err
	}
	byName := map[string]Snapshot{}
	for _, snap := range cat.snaps {
		byName[snap.Name] = snap
	}
	decisions, err := s.decide(byName)
	if err != nil {
		return nil, err
	}
	var copies []SyncCopy
	var errs []error
	for _, dec := range decisions {
		if !dec.Keep {
			continue // retention would delete it there at once
		}
		snap := byName[dec.Name]
		for _, d := range s.dests {
			held, listed := cat.held[d]
			if !listed {
				continue
			}
			if _, ok := held[snap.Name]; ok {
				continue
			}
			c := SyncCopy{Snapshot: snap.Name, Destination: d.name}
			if err := s.copySnapshot(ctx, snap, d); err != nil {
				if ctx.Err() != nil {
					return copies, ctx.Err()
				}
				c.Error = err.Error()
				errs = append(errs, fmt.Errorf("copy %s to %s: %w", snap.Name, d.name, err))
				s.log.Error("sync failed", "snapshot", snap.Name, "destination", d.name, "err", err)
			} else {
				s.log.Info("snapshot copied to a destination that lacked it", "snapshot", snap.Name, "destination", d.name, "from", snap.src.name)
			}
			copies = append(copies, c)
		}
	}
	if len(copies) > len(errs) {
		// An upload left behind when a destination went down mid-snapshot (its abort failed)
		// is for a key that is committed now: sweep removes it.
		s.sweep(ctx)
	}
	return copies, errors.Join(errs...)
}

// copySnapshot copies snap (read from snap.src) to d: data, checked on the way, then the gate,
// then the manifest.
func (s *Scheduler) copySnapshot(ctx context.Context, snap Snapshot, d *destination) error {
	r, err := snap.src.st.Open(ctx, snap.Data)
	if err != nil {
		return snap.src.wrap(err)
	}
	defer r.Close()
	w, err := d.st.Create(ctx, snap.Data)
	if errors.Is(err, store.ErrExists) {
		// A data object without manifest (a copy or snapshot that stopped before its manifest):
		// not a snapshot, so it is replaced.
		if err := d.st.Delete(ctx, snap.Data); err != nil {
			return d.wrap(err)
		}
		w, err = d.st.Create(ctx, snap.Data)
	}
	if err != nil {
		return d.wrap(err)
	}
	defer w.Abort()
	src := newCheckedReader(readerWithContext(ctx, r))
	if _, err := io.Copy(w, src); err != nil {
		return fmt.Errorf("copy data: %w", err)
	}
	if err := src.verify(snap); err != nil {
		return fmt.Errorf("source copy in %s: %w", snap.src.name, err)
	}
	if err := w.Commit(ctx); err != nil {
		return d.wrap(err)
	}
	in := snap
	in.src = d
	if err := s.gate(ctx, in, w); err != nil {
		s.removeData(ctx, d, snap.Data)
		return fmt.Errorf("commit gate: %w", err)
	}
	if err := s.commitManifest(ctx, d, snap); err != nil {
		s.removeData(ctx, d, snap.Data)
		return err
	}
	return nil
}
