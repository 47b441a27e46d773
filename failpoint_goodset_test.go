//go:build failpoints

package pgsnap_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
)

// T20's fifth failure, a corrupt commit: with three good snapshots and SNAPSHOT_RETENTION=3, a
// snapshot whose stored bytes are altered right after the data commit (failpoint
// after-data-commit) fails at the commit gate; the same three snapshots are listed afterwards,
// byte-identical. The other four failures
// are TestFailuresNeverShrinkGoodSet in cmd/pgsnap. Run with: go test -tags failpoints -run
// Failpoint .
func TestFailpointCorruptCommitKeepsGoodSet(t *testing.T) {
	invariants.Fault(t, "T20")
	f := newFixture(t, "CREATE TABLE t AS SELECT g, md5(g::text) AS payload FROM generate_series(1, 10000) g")
	clock := &steppingClock{t: time.Now().UTC().Truncate(time.Second)}
	cfg := f.config(f.c.URL(f.db))
	cfg.Retention = 3
	s := f.scheduler(t, cfg)
	var good []string
	for range 3 {
		snap, err := f.scheduler(t, cfg, pgsnap.WithClock(clock.now)).SnapshotNow(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, snap.Name)
	}
	before := invariants.Snapshot(t, f.dir)

	t.Setenv("PGSNAP_FAILPOINT", "after-data-commit")
	_, err := f.scheduler(t, cfg, pgsnap.WithClock(clock.now)).SnapshotNow(t.Context())
	t.Setenv("PGSNAP_FAILPOINT", "")
	if err == nil || !strings.Contains(err.Error(), "commit gate") {
		t.Errorf("SnapshotNow with its stored bytes altered = %v, want a commit gate failure", err)
	}
	snaps, lerr := s.List(t.Context())
	if lerr != nil {
		t.Fatal(lerr)
	}
	var listed []string
	for _, sn := range snaps {
		listed = append(listed, sn.Name)
	}
	slices.Reverse(listed) // oldest first, as good is
	if !slices.Equal(listed, good) {
		t.Errorf("listed %v after the corrupt commit, want the good %v", listed, good)
	}
	kept, newestGoodDeleted := 0, 0
	for _, name := range good {
		if slices.Contains(listed, name) {
			kept++
		}
	}
	if !slices.Contains(listed, good[len(good)-1]) {
		newestGoodDeleted = 1
	}
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Before: before, Cluster: f.c, Database: f.db, DirCreated: true, MinComplete: 3,
		Failure: err, FailureMentions: []string{"commit gate"}})
	invariants.Report(t, "T20 corrupt commit (failpoint after-data-commit): good snapshots %d/3; newest good deleted %d", kept, newestGoodDeleted)
}
