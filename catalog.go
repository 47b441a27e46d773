package pgsnap

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// List returns every complete snapshot in the store, of any target, newest first. A snapshot is
// complete when its manifest is committed; a manifest that cannot be read is logged and left
// out, never deleted.
func (s *Scheduler) List(ctx context.Context) ([]Snapshot, error) {
	snaps, _, err := s.catalog(ctx)
	return snaps, err
}

// catalog reads every manifest. It also returns every committed key, for orphan detection.
func (s *Scheduler) catalog(ctx context.Context) ([]Snapshot, []store.Info, error) {
	infos, err := s.store.List(ctx)
	if err != nil {
		return nil, nil, s.storeError(err)
	}
	drills := map[string]bool{}
	for _, in := range infos {
		if name, ok := strings.CutSuffix(in.Key, drillSuffix); ok {
			drills[name] = true
		}
	}
	var snaps []Snapshot
	for _, in := range infos {
		name, ok := strings.CutSuffix(in.Key, manifestSuffix)
		if !ok {
			continue
		}
		if _, _, err := parseSnapshotName(name); err != nil {
			continue // not pgsnap's file
		}
		snap, err := s.readManifest(ctx, in.Key)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			s.log.Warn("manifest skipped", "file", in.Key, "err", err)
			continue
		}
		if drills[name] {
			snap.Drill = s.readDrill(ctx, name)
		}
		snaps = append(snaps, snap)
	}
	sortNewestFirst(snaps)
	return snaps, infos, nil
}

func (s *Scheduler) readManifest(ctx context.Context, key string) (Snapshot, error) {
	r, err := s.store.Open(ctx, key)
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
	return decodeManifest(key, b)
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
// this scheduler's target (of any target when none is configured).
func (s *Scheduler) Find(ctx context.Context, name string) (Snapshot, error) {
	if name != "latest" {
		if _, _, err := parseSnapshotName(name); err != nil {
			return Snapshot{}, fmt.Errorf("snapshot %q: %w", name, err)
		}
		snap, err := s.readManifest(ctx, manifestKey(name))
		if errors.Is(err, store.ErrNotFound) {
			return Snapshot{}, fmt.Errorf("snapshot %s in %s: %w", name, s.store, ErrNotFound)
		}
		return snap, err
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
	return Snapshot{}, fmt.Errorf("latest snapshot in %s: %w", s.store, ErrNotFound)
}

// Prune applies retention to this scheduler's target: it keeps the newest Config.Retention
// complete snapshots and deletes the others, manifest first, then data. Snapshots of other
// targets, files pgsnap did not write and temporary files are never touched. With dryRun it
// only reports. It also removes this target's data objects that have had no manifest for an
// hour (left by a crash between the two commits).
func (s *Scheduler) Prune(ctx context.Context, dryRun bool) ([]retention.Decision, error) {
	if s.target == "" {
		return nil, lookupSetting("SNAPSHOT_TARGET").error("", errors.New("set SNAPSHOT_TARGET or DATABASE_URL to choose whose snapshots to prune"))
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, infos, err := s.catalog(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]Snapshot{}
	var items []retention.Item
	for _, snap := range all {
		if snap.Target != s.target {
			continue
		}
		byName[snap.Name] = snap
		items = append(items, retention.Item{Name: snap.Name, Time: snap.Time()})
	}
	decisions, err := retention.KeepLast(items, s.cfg.Retention)
	if err != nil {
		return nil, err
	}
	if dryRun {
		return decisions, nil
	}
	for _, d := range decisions {
		if d.Keep {
			continue
		}
		if err := s.deleteSnapshot(ctx, byName[d.Name]); err != nil {
			return decisions, err
		}
		s.log.Info("snapshot deleted", "snapshot", d.Name, "reason", d.Reason)
	}
	s.removeOrphans(ctx, all, infos)
	return decisions, nil
}

// deleteSnapshot removes the manifest first, so an interruption leaves at worst a data object
// without manifest, which is never listed.
func (s *Scheduler) deleteSnapshot(ctx context.Context, snap Snapshot) error {
	if err := s.store.Delete(ctx, manifestKey(snap.Name)); err != nil {
		return fmt.Errorf("delete snapshot %s: %w", snap.Name, s.storeError(err))
	}
	if err := s.store.Delete(ctx, snap.Data); err != nil {
		return fmt.Errorf("delete snapshot %s: %w", snap.Name, s.storeError(err))
	}
	if err := s.store.Delete(ctx, snap.Name+drillSuffix); err != nil {
		s.log.Warn("delete drill result", "snapshot", snap.Name, "err", err)
	}
	return nil
}

// removeOrphans deletes data objects of this target that no manifest names and that are older
// than orphanAge. It only logs.
func (s *Scheduler) removeOrphans(ctx context.Context, snaps []Snapshot, infos []store.Info) {
	named := map[string]bool{}
	for _, snap := range snaps {
		named[snap.Data] = true
	}
	for _, in := range infos {
		name, ok := strings.CutSuffix(in.Key, zstdSuffix)
		if !ok {
			name, ok = strings.CutSuffix(in.Key, dataSuffix)
		}
		if !ok || named[in.Key] {
			continue
		}
		target, _, err := parseSnapshotName(name)
		if err != nil || target != s.target || s.now().Sub(in.ModTime) < orphanAge {
			continue
		}
		if _, err := s.store.Stat(ctx, manifestKey(name)); !errors.Is(err, store.ErrNotFound) {
			continue // a manifest appeared meanwhile, or the store cannot tell
		}
		if err := s.store.Delete(ctx, in.Key); err != nil {
			s.log.Warn("remove data object without manifest", "file", in.Key, "err", err)
			continue
		}
		s.log.Info("removed data object without manifest", "file", in.Key)
	}
}
