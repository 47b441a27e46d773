package pgsnap_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/store/localstore"
)

// One dump feeds two destinations. When one fills up mid-write, the snapshot is committed in the
// other, listed as incomplete, and copied over by Sync once the destination has room again;
// retention then runs in each destination from what it lists.
// A snapshot in parts (SNAPSHOT_DUMP_JOBS=2) is copied part by part, manifest last.
func TestDestinationMissesSnapshotThenSyncs(t *testing.T) {
	f := newFixture(t, `CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 100000) g;
		CREATE TABLE other AS SELECT g AS id FROM generate_series(1, 1000) g`)
	for _, jobs := range []int{1, 2} {
		t.Run(fmt.Sprintf("dump jobs %d", jobs), func(t *testing.T) { testMissThenSync(t, f, jobs) })
	}
}

func testMissThenSync(t *testing.T, f *fixture, jobs int) {
	good := filepath.Join(t.TempDir(), "a")
	small := mountTmpfs(t, "size=256k")
	a, b := localstore.New(good), localstore.New(small)
	cfg := f.config(f.c.URL(f.db))
	cfg.Retention = 2
	cfg.DumpJobs = jobs
	s := f.scheduler(t, cfg, pgsnap.WithStores(a, b))

	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatalf("SnapshotNow with one destination full = %v, want the snapshot committed in the other", err)
	}
	if jobs > 1 && len(snap.Parts) != jobs {
		t.Fatalf("snapshot with SNAPSHOT_DUMP_JOBS=%d has %d parts", jobs, len(snap.Parts))
	}
	if !slices.Equal(snap.StoredIn, []string{a.String()}) || !slices.Equal(snap.Missing, []string{b.String()}) {
		t.Errorf("snapshot stored in %v, missing %v; want stored in %s, missing %s", snap.StoredIn, snap.Missing, a, b)
	}
	if n := s.Stats().DestinationFailures[b.String()]; n != 1 {
		t.Errorf("Stats().DestinationFailures[%s] = %d, want 1", b, n)
	}
	listed, err := s.List(t.Context())
	if err != nil || len(listed) != 1 || len(listed[0].Missing) != 1 {
		t.Fatalf("List = %+v, %v; want one snapshot missing from %s", listed, err, b)
	}
	invariants.AssertStoreInvariants(t, good, invariants.Options{Cluster: f.c, MinComplete: 1})
	invariants.AssertStoreInvariants(t, small, invariants.Options{Cluster: f.c})

	// Room again: sync copies the snapshot, checked, with its manifest last.
	if err := unix.Mount("tmpfs", small, "tmpfs", unix.MS_REMOUNT, "size=64m"); err != nil {
		t.Fatal(err)
	}
	copies, err := s.Sync(t.Context())
	if err != nil || len(copies) != 1 || copies[0].Destination != b.String() || copies[0].Error != "" {
		t.Fatalf("Sync = %+v, %v; want one copy to %s", copies, err, b)
	}
	listed, err = s.List(t.Context())
	if err != nil || len(listed) != 1 || len(listed[0].Missing) != 0 || len(listed[0].StoredIn) != 2 {
		t.Fatalf("List after sync = %+v, %v; want one complete snapshot in both", listed, err)
	}
	for _, dir := range []string{good, small} {
		invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: f.c, MinComplete: 1})
	}
	if copies, err := s.Sync(t.Context()); err != nil || len(copies) != 0 {
		t.Errorf("second Sync = %+v, %v; want nothing to do", copies, err)
	}

	// Restore reads from either; verify checks the copy in the second destination too.
	cfgB := cfg
	sB := f.scheduler(t, cfgB, pgsnap.WithStores(b))
	found, err := sB.Find(t.Context(), snap.Name)
	if err != nil {
		t.Fatal(err)
	}
	if r := sB.Verify(t.Context(), found, pgsnap.VerifyOptions{Full: true}); !r.OK {
		t.Errorf("verify --full of the synced copy = %+v", r)
	}
}
