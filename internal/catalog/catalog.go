// Package catalog is the only code that knows object names and the manifest format. It lists
// snapshots over every destination, finds them (by name, latest, by label), commits and reads
// manifests and the records beside them (intents, drills, checks, pins, leases), decides and
// carries out retention, sweeps what crashed writers left, copies snapshots between
// destinations, and holds the locks that keep processes apart.
//
// # Coordination between processes
//
// Several pgsnap processes may share a store and a target: replicas of a service, a daemon and
// an operator's command, daemons on several machines. Three mechanisms keep them apart:
//
//   - The writer lock: a PostgreSQL advisory lock on the target's source database (WriterLock),
//     held on a session of its own for as long as a snapshot is being written. Only one
//     process writes a target's snapshot at a time, and the lock dies with its holder. A
//     process that holds it also knows no other writer of the target is alive, so it may
//     sweep the target's leftovers (SweepTarget) without waiting for them to age.
//   - Intent records: a writer commits <name>.intent in a destination before the data object,
//     and removes it after the manifest. A data object without manifest is removed only when an
//     intent proves pgsnap wrote it; a look-alike file without one is never touched.
//   - Leases: a reader (restore, verify, drill, sync, export) commits <name>.lease-<id> before
//     it relies on a snapshot, refreshes it while it works, and removes it when done. Prune
//     skips a snapshot with a live lease, and checks again after removing the manifest, so a
//     reader that found the manifest always finds the data (see Prune).
package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/internal/settings"
	"github.com/pgsnap/pgsnap/retention"
	"github.com/pgsnap/pgsnap/store"
)

// ErrNotFound is returned when a named snapshot does not exist.
var ErrNotFound = errors.New("snapshot not found")

// Progress receives the progress of long operations in bytes: a snapshot's stored bytes, and
// the bytes of a stored snapshot read by verify, restore and drills. Calls for one operation
// come from one goroutine, Begin first and End last.
type Progress interface {
	Begin(what string, total int64) // total is -1 when unknown
	Add(n int64)
	End()
}

// NoProgress reports nothing.
type NoProgress struct{}

func (NoProgress) Begin(string, int64) {}
func (NoProgress) Add(int64)           {}
func (NoProgress) End()                {}

// Options configure a Catalog.
type Options struct {
	// Target is the target whose snapshots Prune, Sync, SweepTarget and "latest" concern; ""
	// leaves the catalog store-wide (list, find by name, verify and restore only).
	Target string
	// Policy is the retention policy (Prune, Sync).
	Policy func() (retention.Policy, error)
	// IdentityFile holds the age identities that decrypt snapshots (SNAPSHOT_AGE_IDENTITY_FILE).
	IdentityFile string
	Log          *slog.Logger
	Now          func() time.Time
	Progress     Progress
}

// Catalog is the snapshots in a set of destinations.
type Catalog struct {
	dests []*Destination
	o     Options
}

// New is the catalog of dests (at least one).
func New(dests []*Destination, o Options) *Catalog {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = NoProgress{}
	}
	if o.Policy == nil {
		o.Policy = func() (retention.Policy, error) { return retention.Policy{Last: 1 << 30, MinKeep: 1}, nil }
	}
	return &Catalog{dests: dests, o: o}
}

// Destinations are the catalog's destinations, in configuration order.
func (c *Catalog) Destinations() []*Destination { return c.dests }

// Target is the catalog's target ("" when store-wide).
func (c *Catalog) Target() string { return c.o.Target }

// List returns every complete snapshot in any destination, of any target, newest first. A
// snapshot is complete when its manifest is committed; a manifest that cannot be read is logged
// and left out, never deleted. Each snapshot says which destinations hold it (StoredIn) and which
// do not yet (Missing). A destination that cannot be listed is logged and counted as missing;
// List fails only when none can be.
func (c *Catalog) List(ctx context.Context) ([]Snapshot, error) {
	l, err := c.listing(ctx, "")
	return l.snaps, err
}

// ListTarget is List for the catalog's target only (every target when store-wide): a store
// shared by many targets is not read whole for one.
func (c *Catalog) ListTarget(ctx context.Context) ([]Snapshot, error) {
	l, err := c.listing(ctx, c.o.Target)
	return l.snaps, err
}

// Find returns the snapshot with the given name, or with name "latest" the newest snapshot of
// the catalog's target (of any target when store-wide), from the first destination that holds
// it.
func (c *Catalog) Find(ctx context.Context, name string) (Snapshot, error) {
	if name == "latest" {
		return c.FindLabeled(ctx, nil)
	}
	if _, _, err := ParseName(name); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %q: %w", name, err)
	}
	var errs []error
	for _, d := range c.dests {
		snap, err := c.readManifest(ctx, d, ManifestKey(name))
		if err == nil {
			return snap, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, d.Wrap(err))
		}
	}
	if len(errs) > 0 {
		return Snapshot{}, errors.Join(errs...)
	}
	return Snapshot{}, fmt.Errorf("snapshot %s in %s: %w", name, strings.Join(c.Names(), ", "), ErrNotFound)
}

// FindLabeled returns the newest snapshot of the catalog's target (of any target when
// store-wide) whose labels include every pair of want.
func (c *Catalog) FindLabeled(ctx context.Context, want map[string]string) (Snapshot, error) {
	snaps, err := c.ListTarget(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	for _, snap := range snaps {
		match := true
		for k, v := range want {
			if got, ok := snap.Labels[k]; !ok || got != v {
				match = false
			}
		}
		if match {
			return snap, nil
		}
	}
	if len(want) == 0 {
		return Snapshot{}, fmt.Errorf("latest snapshot in %s: %w", strings.Join(c.Names(), ", "), ErrNotFound)
	}
	return Snapshot{}, fmt.Errorf("no snapshot labelled %s: %w", settings.LabelsString(want), ErrNotFound)
}

// Stored reports whether a snapshot's manifest is committed in any destination. A destination
// that cannot tell is skipped, unless none can.
func (c *Catalog) Stored(ctx context.Context, name string) (bool, error) {
	var errs []error
	for _, d := range c.dests {
		_, err := d.Store.Stat(ctx, ManifestKey(name))
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, d.Wrap(err))
		}
	}
	if len(errs) == len(c.dests) {
		return false, errors.Join(errs...)
	}
	return false, nil
}

// Check verifies that snapshots can be written: each destination's location exists (or is
// created, private) and accepts a write. With several destinations, one that fails is logged
// and left to catch up later (Sync); Check fails only when none works.
func (c *Catalog) Check(ctx context.Context) error {
	var errs []error
	for _, d := range c.dests {
		if err := d.Store.Check(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, d.Wrap(err))
		}
	}
	if len(errs) == len(c.dests) {
		return errors.Join(errs...)
	}
	for _, err := range errs {
		c.o.Log.Error("destination unusable; snapshots go to the others and are copied here once it works", "err", err)
	}
	return nil
}

// Only is the catalog of the destinations named in names (in their order), with the same options:
// for the work after a snapshot that some destination missed (it was down), which leaves that
// destination for Sync to catch up instead of waiting for it again.
func (c *Catalog) Only(names []string) *Catalog {
	var dests []*Destination
	for _, d := range c.dests {
		if slices.Contains(names, d.Name) {
			dests = append(dests, d)
		}
	}
	if len(dests) == 0 {
		return c
	}
	return &Catalog{dests: dests, o: c.o}
}

// Names lists the destinations' names, in order.
func (c *Catalog) Names() []string {
	names := make([]string, len(c.dests))
	for i, d := range c.dests {
		names[i] = d.Name
	}
	return names
}

// SourceOf is the destination snap was read from (the first when it came from no listing).
func (c *Catalog) SourceOf(snap Snapshot) *Destination {
	if snap.src != nil {
		return snap.src
	}
	return c.dests[0]
}
