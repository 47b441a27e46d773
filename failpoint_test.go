//go:build failpoints

package pgsnap_test

import (
	"strings"
	"testing"

	"github.com/pgsnap/pgsnap/internal/invariants"
)

// The commit gate rejects a snapshot whose stored bytes were altered between commit and
// read-back (the failpoint flips a byte of the committed data object): nothing is listed and the
// data object is gone. Run with: go test -tags failpoints -run Failpoint .
func TestFailpointGateRejectsAlteredBytes(t *testing.T) {
	t.Setenv("PGSNAP_FAILPOINT", "after-data-commit")
	f := newFixture(t, "CREATE TABLE t AS SELECT generate_series(1, 10000) AS g")
	_, err := f.scheduler(t, f.config(f.c.URL(f.db))).SnapshotNow(t.Context())
	if err == nil || !strings.Contains(err.Error(), "commit gate") || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("SnapshotNow with altered stored bytes = %v, want a commit gate sha256 failure", err)
	}
	names := invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, Database: f.db})
	if len(names) != 0 {
		t.Errorf("listed %v after a failed gate", names)
	}
	invariants.Report(t, "gate: altered bytes rejected: %v", err)
}
