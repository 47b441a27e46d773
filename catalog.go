package pgsnap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/retention"
	"github.com/pgsnap/pgsnap/store"
)

// maxManifestSize bounds how much of an object named like a manifest is read.
const maxManifestSize = 1 << 20

// orphanAge is how old a data object without a manifest must be before prune removes it: far
// longer than the moment between a data commit and its manifest commit.
const orphanAge = time.Hour

// ErrNotFound is returned when a named snapshot does not exist.
var ErrNotFound = errors.New("snapshot not found")

// List returns every complete snapshot in any destination, of any target, newest first. A
// snapshot is complete when its manifest is committed; a manifest that cannot be read is logged
// and left out, never deleted. Each snapshot says which destinations hold it (StoredIn) and which
// do not yet (Missing). A destination that cannot be listed is logged and counted as missing;
// List fails only when none can be.
func (s *Scheduler) List(ctx context.Context) ([]Snapshot, error) {
	cat, err := s.catalog(ctx, "")
	return cat.snaps, err
}

// catalogue is what every destination lists.
type catalogue struct {
	snaps []Snapshot                           // merged by name, newest first
	infos map[*destination][]store.Info        // every committed key, per destination
	held  map[*destination]map[string]Snapshot // the snapshots each destination holds
}

// catalog reads every manifest of every destination; with only set, only that target's (a
// store shared by many targets is not read whole for one).
func (s *Scheduler) catalog(ctx context.Context, only string) (catalogue, error) {
	cat := catalogue{infos: map[*destination][]store.Info{}, held: map[*destination]map[string]Snapshot{}}
	byName := map[string]*Snapshot{}
	var order []string
	var errs []error
	for _, d := range s.dests {
		infos, snaps, err := s.catalogOf(ctx, d, only)
		if err != nil {
			if ctx.Err() != nil {
				return catalogue{}, ctx.Err()
			}
			errs = append(errs, d.wrap(err))
			continue
		}
		cat.infos[d] = infos
		cat.held[d] = map[string]Snapshot{}
		for _, snap := range snaps {
			cat.held[d][snap.Name] = snap
			if m, ok := byName[snap.Name]; ok {
				m.StoredIn = append(m.StoredIn, d.name)
				m.Pinned = m.Pinned || snap.Pinned
				if m.Drill == nil {
					m.Drill = snap.Drill
				}
				continue
			}
			snap.StoredIn = []string{d.name}
			byName[snap.Name] = &snap
			order = append(order, snap.Name)
		}
	}
	if len(errs) == len(s.dests) {
		return catalogue{}, errors.Join(errs...)
	}
	for _, err := range errs {
		s.log.Warn("destination not listed; its snapshots count as missing", "err", err)
	}
	for _, name := range order {
		snap := *byName[name]
		for _, d := range s.dests {
			if !slices.Contains(snap.StoredIn, d.name) {
				snap.Missing = append(snap.Missing, d.name)
			}
		}
		cat.snaps = append(cat.snaps, snap)
	}
	sortNewestFirst(cat.snaps)
	return cat, nil
}

// catalogOf reads one destination's manifests.
func (s *Scheduler) catalogOf(ctx context.Context, d *destination, only string) ([]store.Info, []Snapshot, error) {
	infos, err := d.st.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	drills, pins := map[string]bool{}, map[string]bool{}
	for _, in := range infos {
		if name, ok := strings.CutSuffix(in.Key, drillSuffix); ok {
			drills[name] = true
		}
		if name, ok := strings.CutSuffix(in.Key, pinSuffix); ok {
			pins[name] = true
		}
	}
	var snaps []Snapshot
	for _, in := range infos {
		name, ok := strings.CutSuffix(in.Key, manifestSuffix)
		if !ok {
			continue
		}
		if target, _, err := parseSnapshotName(name); err != nil || only != "" && target != only {
			continue // not pgsnap's object, or another target's
		}
		snap, err := s.readManifest(ctx, d, in.Key)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			s.log.Warn("manifest skipped", "destination", d.name, "object", in.Key, "err", err)
			continue
		}
		if drills[name] {
			snap.Drill = s.readDrill(ctx, snap)
		}
		snap.Pinned = pins[name]
		snaps = append(snaps, snap)
	}
	return infos, snaps, nil
}

func (s *Scheduler) readManifest(ctx context.Context, d *destination, key string) (Snapshot, error) {
	r, err := d.st.Open(ctx, key)
	if err != nil {
		return Snapshot{}, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return Snapshot{}, fmt.Errorf("read manifest %s: %w", key, err)
	}
	if len(b) > maxManifestSize {
		return Snapshot{}, fmt.Errorf("invalid manifest %s: larger than %d bytes", key, maxManifestSize)
	}
	snap, err := decodeManifest(key, b)
	snap.src = d
	return snap, err
}

func sortNewestFirst(snaps []Snapshot) {
	sort.SliceStable(snaps, func(i, j int) bool {
		ti, tj := snaps[i].Time(), snaps[j].Time()
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return snaps[i].Name > snaps[j].Name
	})
}

// Find returns the snapshot with the given name, or with name "latest" the newest snapshot of
// this scheduler's target (of any target when none is configured), from the first destination
// that holds it.
func (s *Scheduler) Find(ctx context.Context, name string) (Snapshot, error) {
	if name != "latest" {
		if _, _, err := parseSnapshotName(name); err != nil {
			return Snapshot{}, fmt.Errorf("snapshot %q: %w", name, err)
		}
		var errs []error
		for _, d := range s.dests {
			snap, err := s.readManifest(ctx, d, manifestKey(name))
			if err == nil {
				return snap, nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, d.wrap(err))
			}
		}
		if len(errs) > 0 {
			return Snapshot{}, errors.Join(errs...)
		}
		return Snapshot{}, fmt.Errorf("snapshot %s in %s: %w", name, strings.Join(s.destinationNames(), ", "), ErrNotFound)
	}
	snaps, err := s.List(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	for _, snap := range snaps {
		if s.target == "" || snap.Target == s.target {
			return snap, nil
		}
	}
	return Snapshot{}, fmt.Errorf("latest snapshot in %s: %w", strings.Join(s.destinationNames(), ", "), ErrNotFound)
}

// FindLabeled returns the newest snapshot of this scheduler's target (of any target when none is
// configured) whose labels include every pair of want.
func (s *Scheduler) FindLabeled(ctx context.Context, want map[string]string) (Snapshot, error) {
	snaps, err := s.List(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	for _, snap := range snaps {
		if s.target != "" && snap.Target != s.target {
			continue
		}
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
	return Snapshot{}, fmt.Errorf("no snapshot labelled %s: %w", labelsString(want), ErrNotFound)
}

// PruneDecision is retention's decision about one snapshot in one destination.
type PruneDecision struct {
	retention.Decision
	Destination string
}

// Prune applies retention to this scheduler's target in each destination, from what that
// destination lists: it keeps the newest Config.Retention complete snapshots and deletes the
// others, manifest first, then data. Snapshots of other targets, objects pgsnap did not write
// and temporary objects are never touched. With dryRun it only reports. It also removes this
// target's data objects that have had no manifest for an hour (left by a crash between the two
// commits). A destination that cannot be listed is skipped (logged); its snapshots stay.
func (s *Scheduler) Prune(ctx context.Context, dryRun bool) ([]PruneDecision, error) {
	if s.target == "" {
		return nil, lookupSetting("SNAPSHOT_TARGET").error("", errors.New("set SNAPSHOT_TARGET or DATABASE_URL to choose whose snapshots to prune"))
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cat, err := s.catalog(ctx, s.target)
	if err != nil {
		return nil, err
	}
	var out []PruneDecision
	var errs []error
	for _, d := range s.dests {
		held, ok := cat.held[d]
		if !ok {
			continue // not listed: nothing is decided from a listing we do not have
		}
		decisions, err := s.pruneOne(ctx, d, held, cat.infos[d], dryRun)
		for _, dec := range decisions {
			out = append(out, PruneDecision{Decision: dec, Destination: d.name})
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// pruneOne applies retention in one destination.
func (s *Scheduler) pruneOne(ctx context.Context, d *destination, held map[string]Snapshot, infos []store.Info, dryRun bool) ([]retention.Decision, error) {
	decisions, err := s.decide(held)
	if err != nil || dryRun {
		return decisions, err
	}
	for _, dec := range decisions {
		if dec.Keep {
			continue
		}
		if err := s.deleteSnapshot(ctx, d, held[dec.Name]); err != nil {
			return decisions, err
		}
		s.log.Info("snapshot deleted", "snapshot", dec.Name, "destination", d.name, "reason", dec.Reason)
	}
	s.removeOrphans(ctx, d, held, infos)
	return decisions, nil
}

// decide applies the retention policy to this target's snapshots among snaps.
func (s *Scheduler) decide(snaps map[string]Snapshot) ([]retention.Decision, error) {
	policy, err := s.cfg.policy()
	if err != nil {
		return nil, err
	}
	var items []retention.Item
	for _, snap := range snaps {
		if snap.Target == s.target {
			items = append(items, retention.Item{Name: snap.Name, Time: snap.Time(), Pinned: snap.Pinned})
		}
	}
	return retention.Apply(items, policy, s.now())
}

// deleteSnapshot removes the manifest first, so an interruption leaves at worst a data object
// without manifest, which is never listed.
func (s *Scheduler) deleteSnapshot(ctx context.Context, d *destination, snap Snapshot) error {
	if err := d.st.Delete(ctx, manifestKey(snap.Name)); err != nil {
		return fmt.Errorf("delete snapshot %s: %w", snap.Name, d.wrap(err))
	}
	if err := d.st.Delete(ctx, snap.Data); err != nil {
		return fmt.Errorf("delete snapshot %s: %w", snap.Name, d.wrap(err))
	}
	if err := d.st.Delete(ctx, snap.Name+drillSuffix); err != nil {
		s.log.Warn("delete drill result", "snapshot", snap.Name, "destination", d.name, "err", err)
	}
	return nil
}

// removeOrphans deletes data objects of this target that no manifest names and that are older
// than orphanAge. It only logs.
func (s *Scheduler) removeOrphans(ctx context.Context, d *destination, held map[string]Snapshot, infos []store.Info) {
	named := map[string]bool{}
	for _, snap := range held {
		named[snap.Data] = true
	}
	for _, in := range infos {
		name, ok := nameOfData(in.Key)
		if !ok || named[in.Key] {
			continue
		}
		target, _, err := parseSnapshotName(name)
		if err != nil || target != s.target || s.now().Sub(in.ModTime) < orphanAge {
			continue
		}
		if _, err := d.st.Stat(ctx, manifestKey(name)); !errors.Is(err, store.ErrNotFound) {
			continue // a manifest appeared meanwhile, or the store cannot tell
		}
		if err := d.st.Delete(ctx, in.Key); err != nil {
			s.log.Warn("remove data object without manifest", "destination", d.name, "object", in.Key, "err", err)
			continue
		}
		s.log.Info("removed data object without manifest", "destination", d.name, "object", in.Key)
	}
}
