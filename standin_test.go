package pgsnap_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
)

// standIn writes a two-line script named tool into a new bin dir: it reports version for
// --version and otherwise does what body says. A stand-in is the only way on one machine to
// have a pg_dump that writes nothing or a pg_restore older than the server (RELIABILITY.md T11,
// T17, T37).
func standIn(t *testing.T, tool, version, body string) string {
	t.Helper()
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = --version ] && { echo '%s (PostgreSQL) %s'; exit 0; }\n%s\n", tool, version, body)
	if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// T17: a pg_dump that exits 0 with no output is rejected at commit; nothing is listed.
func TestEmptyDumpRejected(t *testing.T) {
	invariants.Fault(t, "T17")
	f := newFixture(t, "CREATE TABLE t (id int)")
	cfg := f.config(f.c.URL(f.db))
	cfg.PGBinDir = standIn(t, "pg_dump", fmt.Sprintf("%d.99", f.c.Version), "exit 0")
	_, err := f.scheduler(t, cfg).SnapshotNow(t.Context())
	if err == nil || !strings.Contains(err.Error(), "wrote nothing") {
		t.Fatalf("SnapshotNow with an empty dump = %v, want a rejection", err)
	}
	if names := invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, Database: f.db}); len(names) != 0 {
		t.Errorf("listed %v", names)
	}
	invariants.Report(t, "T17 empty dump: rejected at commit 1/1")
}

// T37: a pg_restore older than the archive's pg_dump is refused before anything connects to
// the target, naming both versions and SNAPSHOT_PG_BIN_DIR.
func TestRestoreRefusesOldPgRestore(t *testing.T) {
	invariants.Fault(t, "T37")
	f := newFixture(t, "CREATE TABLE t AS SELECT generate_series(1, 10) AS g")
	snap, err := f.scheduler(t, f.config(f.c.URL(f.db))).SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.config(f.c.URL(f.db))
	cfg.PGBinDir = standIn(t, "pg_restore", "14.10", "exit 1")
	target := f.db + "_old"
	_, err = f.scheduler(t, cfg).Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(target))})
	for _, want := range []string{"14.10", fmt.Sprint(f.c.Version), "SNAPSHOT_PG_BIN_DIR"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("restore with pg_restore 14.10 = %v, want an error naming %q", err, want)
		}
	}
	if exists(t, f, target) {
		t.Errorf("database %s was left behind", target)
		f.c.DropDatabase(context.Background(), target)
	}
	invariants.Report(t, "T37 old pg_restore: refused, naming both versions")
}
