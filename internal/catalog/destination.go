package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/pgsnap/pgsnap/internal/settings"
	"github.com/pgsnap/pgsnap/store"
	"github.com/pgsnap/pgsnap/store/localstore"
	"github.com/pgsnap/pgsnap/store/s3store"
)

// Destination is one place snapshots are kept: a local directory, a bucket prefix, or a store
// an embedding program gave. Every snapshot goes to every destination from one dump; each
// commits on its own.
type Destination struct {
	Name    string // for logs, list and manifests: "local:/snapshots", "s3://bucket/prefix"
	Setting string // the setting that configured it, named in its errors ("" for a given store)
	Store   store.Store
}

// Wrap names the destination's setting (or the store) in an error about it. Store errors name
// the location themselves.
func (d *Destination) Wrap(err error) error {
	if err == nil {
		return nil
	}
	if d.Setting != "" {
		return fmt.Errorf("%s: %w", d.Setting, err)
	}
	return fmt.Errorf("store %s: %w", d.Name, err)
}

// ForStore is the destination of a store an embedding program gave.
func ForStore(st store.Store) *Destination { return &Destination{Name: st.String(), Store: st} }

// DefaultDir is where snapshots go when no destination is configured.
const DefaultDir = "/snapshots"

// Destinations builds the configured destinations: SNAPSHOT_DIR, then SNAPSHOT_S3_URL. The
// default directory applies only when neither is set. Nothing is touched yet.
func Destinations(c settings.Config, log *slog.Logger) ([]*Destination, error) {
	var out []*Destination
	dir := c.Dir
	if dir == "" && !c.HasRemote() {
		dir = DefaultDir
	}
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, settings.Lookup("SNAPSHOT_DIR").Problem(dir, err)
		}
		out = append(out, &Destination{Name: "local:" + abs, Setting: "SNAPSHOT_DIR", Store: localstore.New(abs)})
	}
	cfg, ok, err := c.S3Store(log)
	if err != nil || !ok {
		return out, err
	}
	st, err := s3store.New(context.Background(), cfg)
	if err != nil {
		return nil, settings.Lookup("SNAPSHOT_S3_URL").Problem(c.S3.URL, err)
	}
	return append(out, &Destination{Name: st.String(), Setting: "SNAPSHOT_S3_URL", Store: st}), nil
}

// DestinationResult is how one destination fared when a snapshot was written, as the manifest
// records it.
type DestinationResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}
