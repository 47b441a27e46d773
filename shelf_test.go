package pgsnap_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap"
)

// A Go program that only lists, verifies and restores needs no Scheduler: pgsnap.Open is the
// whole of it. The snapshot is taken by another process's library (a Scheduler); the handle
// is opened on the store alone, without DATABASE_URL.
func TestShelfListsVerifiesRestoresWithoutScheduler(t *testing.T) {
	f := newFixture(t, `CREATE TABLE orders AS SELECT g AS id, 'order ' || g AS note FROM generate_series(1, 5000) g;
		CREATE INDEX ON orders (id)`)
	taken, err := f.scheduler(t, f.config(f.c.URL(f.db))).SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	cfg := pgsnap.DefaultConfig()
	cfg.Dir = f.dir
	shelf, err := pgsnap.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := shelf.List(t.Context())
	if err != nil || len(snaps) != 1 || snaps[0].Name != taken.Name {
		t.Fatalf("List = %v, %v; want %s", snaps, err, taken.Name)
	}
	if r := shelf.Verify(t.Context(), snaps[0], pgsnap.VerifyOptions{Full: true}); !r.OK {
		t.Fatalf("Verify = %+v, want OK", r)
	}
	restored := f.db + "_shelf"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), restored) })
	got, err := shelf.Restore(t.Context(), snaps[0].Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(restored)), Jobs: 2})
	if err != nil || got.Name != taken.Name {
		t.Fatalf("Restore = %s, %v; want %s restored", got.Name, err, taken.Name)
	}
	if diff := cmp.Diff(f.c.FingerprintDB(t, f.db), f.c.FingerprintDB(t, restored)); diff != "" {
		t.Errorf("restored database differs (-source +restored):\n%s", diff)
	}
	// The verification's verdict is recorded beside the snapshot.
	snaps, err = shelf.List(t.Context())
	if err != nil || len(snaps) != 1 || snaps[0].Check == nil || !snaps[0].Check.OK {
		t.Errorf("List after Verify: check = %+v, %v; want a passed check recorded", snaps[0].Check, err)
	}
}
