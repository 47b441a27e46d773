package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/store"
)

// SyncCopy is one snapshot copied, or not, to a destination that lacked it.
type SyncCopy struct {
	Snapshot    string `json:"snapshot"`
	Destination string `json:"destination"`
	Error       string `json:"error,omitempty"`
}

// Gate is the commit gate a copied data object passes before its manifest is committed: w is
// the object's writer, committed already (for a store that confirms the stored bytes itself).
type Gate func(ctx context.Context, snap Snapshot, d *Destination, w store.Writer) error

// Sync completes incomplete snapshots: each good snapshot of the target that retention keeps and
// that a destination lacks is copied there from a destination that holds it (under a lease),
// checked against its manifest on the way, committed, passed through gate, and given its
// manifest last, as if written there first, with an intent record around it. Nothing is dumped
// again. The caller holds the target's writer lock when it can. A destination that cannot be
// listed is skipped (it stays incomplete); the error reports every copy that failed.
func (c *Catalog) Sync(ctx context.Context, gate Gate) ([]SyncCopy, error) {
	if len(c.dests) < 2 || c.o.Target == "" {
		return nil, nil
	}
	l, err := c.listing(ctx, c.o.Target)
	if err != nil {
		return nil, err
	}
	policy, err := c.o.Policy()
	if err != nil {
		return nil, err
	}
	byName := map[string]Snapshot{}
	for _, snap := range l.snaps {
		byName[snap.Name] = snap
	}
	decisions, err := decide(l.snaps, policy, c.o.Now())
	if err != nil {
		return nil, err
	}
	var copies []SyncCopy
	var errs []error
	for _, dec := range decisions {
		snap := byName[dec.Name]
		if !dec.Keep || snap.Damaged != "" {
			continue // retention would delete it there at once, or it is no good to copy
		}
		for _, d := range c.dests {
			dl, listed := l.dests[d]
			if !listed {
				continue
			}
			if _, ok := dl.held[snap.Name]; ok {
				continue
			}
			cp := SyncCopy{Snapshot: snap.Name, Destination: d.Name}
			if err := c.copySnapshot(ctx, snap, d, gate); err != nil {
				if ctx.Err() != nil {
					return copies, ctx.Err()
				}
				cp.Error = err.Error()
				errs = append(errs, fmt.Errorf("copy %s to %s: %w", snap.Name, d.Name, err))
				c.o.Log.Error("sync failed", "snapshot", snap.Name, "destination", d.Name, "err", err)
			} else {
				c.o.Log.Info("snapshot copied to a destination that lacked it", "snapshot", snap.Name, "destination", d.Name, "from", c.SourceOf(snap).Name)
			}
			copies = append(copies, cp)
		}
	}
	return copies, errors.Join(errs...)
}

// copySnapshot copies snap (read from its source, under a lease) to d: intent, each data
// object checked on the way and passed through the gate, then the manifest.
func (c *Catalog) copySnapshot(ctx context.Context, snap Snapshot, d *Destination, gate Gate) (err error) {
	lease, err := c.Lease(ctx, snap, "sync")
	if err != nil {
		return err
	}
	defer lease.Release()
	var keys []string
	for _, o := range snap.Objects() {
		keys = append(keys, o.Data)
	}
	if err := c.CommitIntent(ctx, d, snap.Name, keys); err != nil {
		return err
	}
	committed := false
	defer func() {
		if err != nil {
			c.EndWrite(ctx, d, snap.Name, keys, committed)
		}
	}()
	for _, o := range snap.Objects() {
		if err := c.copyObject(ctx, o, d, gate); err != nil {
			return err
		}
		committed = true
	}
	if err := c.CommitManifest(ctx, d, snap); err != nil {
		return err
	}
	c.EndWrite(ctx, d, snap.Name, keys, false)
	return nil
}

// copyObject copies one data object of snap to d and passes it through gate.
func (c *Catalog) copyObject(ctx context.Context, o Snapshot, d *Destination, gate Gate) error {
	src := c.SourceOf(o)
	r, err := src.Store.Open(ctx, o.Data)
	if err != nil {
		return src.Wrap(err)
	}
	defer r.Close()
	w, err := d.Store.Create(ctx, o.Data)
	if err != nil {
		// ErrExists: a data object without manifest that no intent proved ours; left alone.
		return d.Wrap(err)
	}
	defer w.Abort()
	in := codec.NewCheckedReader(contextReader{ctx, r})
	if _, err := io.Copy(w, in); err != nil {
		return fmt.Errorf("copy data: %w", err)
	}
	n, sum, err := in.Finish()
	if err != nil {
		return fmt.Errorf("copy data: %w", err)
	}
	if why := codec.Mismatch(n, sum, o.Size, o.SHA256); why != "" {
		return fmt.Errorf("source copy in %s: %w", src.Name, &CorruptError{Name: o.Name, Reason: why})
	}
	if err := w.Commit(ctx); err != nil {
		return d.Wrap(err)
	}
	o.src = d
	if err := gate(ctx, o, d, w); err != nil {
		return fmt.Errorf("commit gate: %w", err)
	}
	return nil
}
