package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pgsnap/pgsnap/store"
)

// cleanupTimeout bounds cleanup work done after the caller's context has ended.
const cleanupTimeout = 10 * time.Second

// CommitManifest commits snap's manifest in d: the step that makes the snapshot exist there.
func (c *Catalog) CommitManifest(ctx context.Context, d *Destination, snap Snapshot) error {
	b, err := encodeManifest(snap)
	if err != nil {
		return err
	}
	return d.Wrap(commitObject(ctx, d.Store, ManifestKey(snap.Name), b))
}

// CommitIntent records in d, before the data objects keys are created there, that a writer is
// about to write them for the snapshot name: the proof SweepTarget needs to remove them should
// the writer die before its manifest. The caller holds the writer lock.
func (c *Catalog) CommitIntent(ctx context.Context, d *Destination, name string, keys []string) error {
	host, _ := os.Hostname()
	b, err := json.Marshal(intentRecord{Snapshot: name, Data: keys, Host: host, PID: os.Getpid(), At: c.o.Now().UTC()})
	if err != nil {
		return err
	}
	err = commitObject(ctx, d.Store, name+intentSuffix, b)
	if errors.Is(err, store.ErrExists) {
		// A crashed writer's intent for the very same name: its data object is swept first.
		return d.Wrap(fmt.Errorf("snapshot %s: an earlier writer's intent is still recorded: %w", name, err))
	}
	return d.Wrap(err)
}

// EndWrite removes the intent of name in d once its snapshot is committed or its data objects
// removed, also after ctx ended. With removeData the data objects keys go first: the write
// failed. Failures are logged; SweepTarget finishes the job.
func (c *Catalog) EndWrite(ctx context.Context, d *Destination, name string, keys []string, removeData bool) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if removeData {
		for _, key := range keys {
			if err := d.Store.Delete(cctx, key); err != nil {
				c.o.Log.Warn("remove data object without manifest; the next run of the target removes it", "destination", d.Name, "object", key, "err", err)
				return // the intent stays: it is the proof the next sweep needs
			}
		}
	}
	if err := d.Store.Delete(cctx, name+intentSuffix); err != nil {
		c.o.Log.Warn("remove intent record", "destination", d.Name, "object", name+intentSuffix, "err", err)
	}
}

// SaveDrill stores d beside its snapshot, replacing the previous result.
func (c *Catalog) SaveDrill(ctx context.Context, snap Snapshot, d Drill) error {
	return saveRecord(ctx, c.SourceOf(snap).Store, snap.Name+drillSuffix, d)
}

// SaveCheck stores a verification's verdict beside its snapshot, replacing the previous one.
func (c *Catalog) SaveCheck(ctx context.Context, snap Snapshot, ch Check) error {
	return saveRecord(ctx, c.SourceOf(snap).Store, snap.Name+checkSuffix, ch)
}

func saveRecord(ctx context.Context, st store.Store, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := st.Delete(ctx, key); err != nil {
		return err
	}
	return commitObject(ctx, st, key, append(b, '\n'))
}

// SetPin pins (or unpins) the named snapshot in every destination that holds it: retention
// keeps a pinned snapshot whatever its policy says. The pin is an object beside the snapshot
// (manifests never change) that records when and why.
func (c *Catalog) SetPin(ctx context.Context, name string, pinned bool, reason string) error {
	if _, err := c.Find(ctx, name); err != nil {
		return err
	}
	var errs []error
	for _, d := range c.dests {
		if _, err := d.Store.Stat(ctx, ManifestKey(name)); err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, d.Wrap(err))
			}
			continue // not held here
		}
		key := name + pinSuffix
		if !pinned {
			errs = append(errs, d.Wrap(d.Store.Delete(ctx, key)))
			continue
		}
		b, err := json.Marshal(pinRecord{At: c.o.Now().UTC(), Reason: reason})
		if err != nil {
			return err
		}
		if err := commitObject(ctx, d.Store, key, b); err != nil && !errors.Is(err, store.ErrExists) {
			errs = append(errs, d.Wrap(err))
		}
	}
	return errors.Join(errs...)
}

// commitObject writes a small object.
func commitObject(ctx context.Context, st store.Store, key string, b []byte) error {
	w, err := st.Create(ctx, key)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write(b); err != nil {
		return err
	}
	return w.Commit(ctx)
}
