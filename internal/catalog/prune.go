package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/internal/failpoint"
	"github.com/pgsnap/pgsnap/internal/settings"
	"github.com/pgsnap/pgsnap/retention"
	"github.com/pgsnap/pgsnap/store"
)

// PruneDecision is retention's decision about one snapshot in one destination.
type PruneDecision struct {
	retention.Decision
	Destination string
	// Damaged says why the snapshot does not count toward the policy, when it does not.
	Damaged string `json:",omitempty"`
}

// Prune applies retention to the catalog's target in each destination, from what that
// destination lists. Only good snapshots count toward the policy (a snapshot whose data object
// is missing or of the wrong size, or whose latest verification or drill found it damaged, is
// not good), so the newest good snapshot is always kept. A damaged snapshot is kept while it is
// newer than the oldest good one kept (for inspection), and when there is no good one at all.
// Deleting removes the manifest first, then the data and the records beside it. Snapshots of
// other targets, objects pgsnap did not write and temporary objects are never touched. A
// snapshot that another process holds a lease on (restoring, verifying, drilling, syncing it)
// is skipped: its lease is looked at before the manifest goes and again after, and if one
// appeared meanwhile the manifest is put back. With dryRun Prune only reports. A destination
// that cannot be listed is skipped (logged); its snapshots stay.
func (c *Catalog) Prune(ctx context.Context, dryRun bool) ([]PruneDecision, error) {
	if c.o.Target == "" {
		return nil, settings.Lookup("SNAPSHOT_TARGET").Problem("", errors.New("set SNAPSHOT_TARGET or DATABASE_URL to choose whose snapshots to prune"))
	}
	l, err := c.listing(ctx, c.o.Target)
	if err != nil {
		return nil, err
	}
	policy, err := c.o.Policy()
	if err != nil {
		return nil, err
	}
	var out []PruneDecision
	var errs []error
	for _, d := range c.dests {
		dl, ok := l.dests[d]
		if !ok {
			continue // not listed: nothing is decided from a listing we do not have
		}
		decisions, err := decide(slices.Collect(mapsValues(dl.held)), policy, c.o.Now())
		if err != nil {
			return out, err
		}
		for _, dec := range decisions {
			if !dec.Keep && !dryRun {
				kept, err := c.deleteSnapshot(ctx, d, dl, dl.held[dec.Name])
				if err != nil {
					errs = append(errs, err)
				}
				if kept != "" {
					dec.Keep, dec.Reason = true, kept
				}
			}
			out = append(out, PruneDecision{Decision: dec.Decision, Destination: d.Name, Damaged: dec.damaged})
		}
		if !dryRun {
			removeStaleLeases(ctx, d, dl, c.o.Target, c.o.Now(), c.o.Log)
		}
	}
	return out, errors.Join(errs...)
}

type decision struct {
	retention.Decision
	damaged string
}

// decide applies policy to the good snapshots among snaps and keeps a damaged one while it is
// newer than the oldest good snapshot kept, or when none is good.
func decide(snaps []Snapshot, policy retention.Policy, now time.Time) ([]decision, error) {
	var good []retention.Item
	var damaged []Snapshot
	for _, snap := range snaps {
		if snap.Damaged == "" {
			good = append(good, retention.Item{Name: snap.Name, Time: snap.Time(), Pinned: snap.Pinned})
		} else {
			damaged = append(damaged, snap)
		}
	}
	decided, err := retention.Apply(good, policy, now)
	if err != nil {
		return nil, err
	}
	var oldestKept time.Time
	out := make([]decision, 0, len(snaps))
	for _, d := range decided {
		if d.Keep {
			oldestKept = d.Time
		}
		out = append(out, decision{Decision: d})
	}
	for _, snap := range damaged {
		d := decision{Decision: retention.Decision{Item: retention.Item{Name: snap.Name, Time: snap.Time(), Pinned: snap.Pinned}}, damaged: snap.Damaged}
		switch {
		case snap.Pinned:
			d.Keep, d.Reason = true, "pinned (damaged, not counted: "+snap.Damaged+")"
		case len(good) == 0:
			d.Keep, d.Reason = true, "damaged, not counted, kept: no good snapshot to rely on ("+snap.Damaged+")"
		case snap.Time().After(oldestKept):
			d.Keep, d.Reason = true, "damaged, not counted, kept for inspection while newer than the oldest good snapshot kept ("+snap.Damaged+")"
		default:
			d.Reason = "damaged, not counted, older than every good snapshot kept (" + snap.Damaged + ")"
		}
		out = append(out, d)
	}
	slices.SortStableFunc(out, func(a, b decision) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	return out, nil
}

// deleteSnapshot removes a snapshot from d, manifest first, so an interruption leaves at worst
// a data object without manifest, which is never listed. A snapshot under a live lease is kept,
// and kept says why.
func (c *Catalog) deleteSnapshot(ctx context.Context, d *Destination, dl *destListing, snap Snapshot) (kept string, err error) {
	if liveLease(dl.leases[snap.Name], c.o.Now()) {
		c.o.Log.Info("snapshot in use by another process, not deleted", "snapshot", snap.Name, "destination", d.Name)
		return "in use (leased by a restore, verify, drill or sync), deleted by a later prune", nil
	}
	// An intent record names the data objects: should this process die between the manifest
	// and the data, SweepTarget (under the writer lock) finishes the delete.
	var keys []string
	for _, o := range snap.Objects() {
		keys = append(keys, o.Data)
	}
	if err := c.CommitIntent(ctx, d, snap.Name, keys); err != nil && !errors.Is(err, store.ErrExists) {
		return "", fmt.Errorf("delete snapshot %s: %w", snap.Name, err)
	}
	if err := d.Store.Delete(ctx, ManifestKey(snap.Name)); err != nil {
		c.EndWrite(ctx, d, snap.Name, keys, false)
		return "", fmt.Errorf("delete snapshot %s: %w", snap.Name, d.Wrap(err))
	}
	failpoint.Hit("prune-after-manifest-delete") // T3: a crash in the middle of a retention delete
	// A reader that found the manifest before it went holds a lease by now: look again.
	infos, err := d.Store.List(ctx)
	if err != nil {
		defer c.EndWrite(ctx, d, snap.Name, keys, false)
		return restoreManifest(ctx, d, snap, fmt.Errorf("delete snapshot %s: look for leases: %w", snap.Name, d.Wrap(err)))
	}
	var leases []store.Info
	for _, in := range infos {
		if strings.HasPrefix(in.Key, snap.Name+leaseInfix) {
			leases = append(leases, in)
		}
	}
	if liveLease(leases, c.o.Now()) {
		if _, err := restoreManifest(ctx, d, snap, nil); err != nil {
			return "", err
		}
		c.EndWrite(ctx, d, snap.Name, keys, false)
		c.o.Log.Info("snapshot leased while being deleted, kept", "snapshot", snap.Name, "destination", d.Name)
		return "in use (leased while being deleted), deleted by a later prune", nil
	}
	for _, o := range snap.Objects() {
		if err := d.Store.Delete(ctx, o.Data); err != nil {
			return "", fmt.Errorf("delete snapshot %s: %w", snap.Name, d.Wrap(err))
		}
	}
	deleteRecords(ctx, d, snap.Name, c.o.Log)
	c.EndWrite(ctx, d, snap.Name, keys, false)
	c.o.Log.Info("snapshot deleted", "snapshot", snap.Name, "destination", d.Name)
	return "", nil
}

// deleteRecords removes the records beside a deleted snapshot: drill, check, pin.
func deleteRecords(ctx context.Context, d *Destination, name string, log *slog.Logger) {
	for _, key := range []string{name + drillSuffix, name + checkSuffix, name + pinSuffix} {
		if err := d.Store.Delete(ctx, key); err != nil {
			log.Warn("delete record", "object", key, "destination", d.Name, "err", err)
		}
	}
}

// restoreManifest puts a deleted manifest back, byte for byte, and returns cause.
func restoreManifest(ctx context.Context, d *Destination, snap Snapshot, cause error) (string, error) {
	b := snap.raw
	if b == nil {
		var err error
		if b, err = encodeManifest(snap); err != nil {
			return "", errors.Join(cause, err)
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := commitObject(cctx, d.Store, ManifestKey(snap.Name), b); err != nil && !errors.Is(err, store.ErrExists) {
		return "", errors.Join(cause, fmt.Errorf("put the manifest of %s back: %w", snap.Name, d.Wrap(err)))
	}
	return "kept: " + fmt.Sprint(cause), cause
}

// removeStaleLeases deletes the target's lease objects that are no longer live.
func removeStaleLeases(ctx context.Context, d *Destination, dl *destListing, target string, now time.Time, log *slog.Logger) {
	for _, leases := range dl.leases {
		for _, in := range leases {
			if target, _, err := ParseName(strings.Split(in.Key, leaseInfix)[0]); err != nil || target != target {
				continue
			}
			if now.Sub(in.ModTime) >= leaseTTL {
				if err := d.Store.Delete(ctx, in.Key); err != nil {
					log.Warn("remove stale lease", "object", in.Key, "destination", d.Name, "err", err)
				}
			}
		}
	}
}

// Sweep removes, in every destination, temporary objects whose writers provably ended: a local
// temporary file whose lock is free, an S3 upload older than any run may last. It only logs.
func (c *Catalog) Sweep(ctx context.Context) {
	for _, d := range c.dests {
		removed, err := d.Store.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			c.o.Log.Warn("sweep temporary objects", "destination", d.Name, "err", err)
		}
		for _, name := range removed {
			c.o.Log.Info("removed stale temporary object", "destination", d.Name, "object", name)
		}
	}
}

// SweepTarget removes what crashed writers of the catalog's target left, in every destination:
// their temporary objects and uploads, whatever their age, and data objects that an intent
// record proves pgsnap wrote but that never got their manifest. The caller must hold the
// target's writer lock: that proves no writer of the target is alive. Objects without an intent
// (a file that merely looks like a snapshot's) are never touched. It only logs.
func (c *Catalog) SweepTarget(ctx context.Context) {
	if c.o.Target == "" {
		return
	}
	ours := func(key string) bool { return ofTarget(key, c.o.Target) }
	for _, d := range c.dests {
		if ks, ok := d.Store.(store.KeySweeper); ok {
			removed, err := ks.SweepKeys(ctx, ours)
			if err != nil && ctx.Err() == nil {
				c.o.Log.Warn("sweep the target's temporary objects", "destination", d.Name, "err", err)
			}
			for _, name := range removed {
				c.o.Log.Info("removed a crashed writer's temporary object", "destination", d.Name, "object", name)
			}
		}
		dl, err := c.listOne(ctx, d, c.o.Target)
		if err != nil {
			if ctx.Err() == nil {
				c.o.Log.Warn("sweep: list", "destination", d.Name, "err", err)
			}
			continue
		}
		for _, name := range dl.intents {
			if target, _, err := ParseName(name); err != nil || target != c.o.Target {
				continue
			}
			sweepIntent(ctx, d, dl, name, c.o.Now(), c.o.Log)
		}
	}
}

// sweepIntent finishes a dead writer's snapshot name in d: a committed one keeps everything
// but the intent; otherwise the data object the intent names goes too.
func sweepIntent(ctx context.Context, d *Destination, dl *destListing, name string, now time.Time, log *slog.Logger) {
	if liveLease(dl.leases[name], now) {
		return // a reader holds it: a prune may be putting its manifest back
	}
	if _, committed := dl.infos[ManifestKey(name)]; !committed {
		var rec intentRecord
		if !readRecord(ctx, d, name+intentSuffix, &rec, log) {
			return
		}
		for _, key := range rec.Data {
			if n, ok := nameOfData(key); !ok || n != name || store.ValidKey(key) != nil {
				log.Warn("intent record names no data object of its snapshot; left alone", "object", name+intentSuffix, "data", key)
				return
			}
		}
		for _, key := range rec.Data {
			if _, ok := dl.infos[key]; !ok {
				continue
			}
			if err := d.Store.Delete(ctx, key); err != nil {
				log.Warn("remove data object without manifest", "destination", d.Name, "object", key, "err", err)
				return
			}
			log.Info("removed a crashed writer's data object without manifest", "destination", d.Name, "object", key)
		}
		deleteRecords(ctx, d, name, log)
	}
	if err := d.Store.Delete(ctx, name+intentSuffix); err != nil {
		log.Warn("remove intent record", "destination", d.Name, "object", name+intentSuffix, "err", err)
	}
}
