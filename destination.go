package pgsnap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/pgsnap/pgsnap/store"
	"github.com/pgsnap/pgsnap/store/localstore"
)

// destination is one place snapshots are kept: a local directory, a bucket prefix, or a store
// given with WithStore. Every snapshot goes to every destination from one dump; each commits on
// its own.
type destination struct {
	name    string // for logs, list and manifests: "local:/snapshots", "s3://bucket/prefix"
	setting string // the setting that configured it, named in its errors ("" for WithStore)
	st      store.Store
}

// wrap names the destination's setting (or the store) in an error about it. Store errors name
// the location themselves.
func (d *destination) wrap(err error) error {
	if err == nil {
		return nil
	}
	if d.setting != "" {
		return fmt.Errorf("%s: %w", d.setting, err)
	}
	return fmt.Errorf("store %s: %w", d.name, err)
}

// DestinationResult is how one destination fared when a snapshot was written, as the manifest
// records it.
type DestinationResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// defaultDir is where snapshots go when no destination is configured.
const defaultDir = "/snapshots"

// destinations builds the configured destinations: SNAPSHOT_DIR, then SNAPSHOT_S3_URL. The
// default directory applies only when neither is set.
func (c Config) destinations(log *slog.Logger) ([]*destination, error) {
	var out []*destination
	dir := c.Dir
	if dir == "" && !c.hasRemote() {
		dir = defaultDir
	}
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, lookupSetting("SNAPSHOT_DIR").error(dir, err)
		}
		out = append(out, &destination{name: "local:" + abs, setting: "SNAPSHOT_DIR", st: localstore.New(abs)})
	}
	remote, err := c.remoteDestinations(log)
	if err != nil {
		return nil, err
	}
	return append(out, remote...), nil
}

// storeOf is where snap was found (its first destination when it came from no listing).
func (s *Scheduler) storeOf(snap Snapshot) *destination {
	if snap.src != nil {
		return snap.src
	}
	return s.dests[0]
}

// Check verifies at start-up that snapshots can be written: each destination's location exists
// (or is created, private) and accepts a write. With several destinations, one that fails is
// logged and left to catch up later (sync); Check fails only when none works.
func (s *Scheduler) Check(ctx context.Context) error {
	var errs []error
	for _, d := range s.dests {
		if err := d.st.Check(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, d.wrap(err))
		}
	}
	if len(errs) == len(s.dests) {
		return errors.Join(errs...)
	}
	for _, err := range errs {
		s.log.Error("destination unusable; snapshots go to the others and are copied here once it works", "err", err)
	}
	return nil
}

// sweep removes temporary objects left by crashed writers in every destination; it only logs.
func (s *Scheduler) sweep(ctx context.Context) {
	for _, d := range s.dests {
		removed, err := d.st.Sweep(ctx)
		if err != nil {
			s.log.Warn("sweep temporary objects", "destination", d.name, "err", err)
		}
		for _, name := range removed {
			s.log.Info("removed stale temporary object", "destination", d.name, "object", name)
		}
	}
}

// destinationNames lists the configured destinations, in order.
func (s *Scheduler) destinationNames() []string {
	names := make([]string, len(s.dests))
	for i, d := range s.dests {
		names[i] = d.name
	}
	return names
}
