package pgsnap_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
)

// SNAPSHOT_DUMP_JOBS=2 takes one snapshot over two pg_dump streams sharing one exported
// snapshot: stored as two parts under one manifest, each a custom archive zstd -dc decodes; it
// verifies in full, drills, restores identically, and the parts are one consistent snapshot:
// two tables in different parts, whose sum a concurrent transfer keeps constant, restore with
// the same sum.
func TestDumpJobsPartsAreOneConsistentSnapshot(t *testing.T) {
	f := newFixture(t, verifySQL+`
CREATE TABLE checking (id int PRIMARY KEY, balance bigint NOT NULL, pad text);
CREATE TABLE savings (id int PRIMARY KEY, balance bigint NOT NULL, pad text);
INSERT INTO checking SELECT g, 1000, repeat(md5(g::text), 8) FROM generate_series(1, 40000) g;
INSERT INTO savings SELECT g, 1000, repeat(md5(g::text), 6) FROM generate_series(1, 40000) g;`)
	const total = 2 * 40000 * 1000
	// A transfer moves money between the tables, keeping the sum, while the snapshot is taken.
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	conn, err := f.c.Connect(t.Context(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		defer conn.Close(context.Background())
		for i := 0; ctx.Err() == nil; i++ {
			id := 1 + i%40000
			_, err := conn.Exec(ctx, fmt.Sprintf(`BEGIN; UPDATE checking SET balance = balance - 7 WHERE id = %d;
				UPDATE savings SET balance = balance + 7 WHERE id = %d; COMMIT`, id, id))
			if err != nil && ctx.Err() == nil {
				t.Errorf("transfer: %v", err)
				return
			}
		}
	})

	cfg := f.config(f.c.URL(f.db))
	cfg.DumpJobs = 2
	cfg.Verify = pgsnap.VerifyFull
	s := f.scheduler(t, cfg)
	time.Sleep(200 * time.Millisecond) // transfers under way
	snap, err := s.SnapshotNow(t.Context())
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Parts) != 2 || snap.Parts[0].Data != snap.Data || len(snap.Parts[1].Tables) == 0 {
		t.Fatalf("snapshot parts = %+v, want two, the first being the data object", snap.Parts)
	}
	for _, p := range snap.Parts {
		if st, err := os.Stat(filepath.Join(f.dir, p.Data)); err != nil || st.Size() != p.Size {
			t.Errorf("part %s: %v, size %v, manifest says %d", p.Data, err, st, p.Size)
		}
		// The standard tools read each part: zstd -dc gives an archive pg_restore lists.
		cmd := exec.Command("sh", "-c", "zstd -dc "+filepath.Join(f.dir, p.Data)+" | "+filepath.Join(f.c.BinDir, "pg_restore")+" --list >/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("zstd -dc %s | pg_restore --list: %v\n%s", p.Data, err, out)
		}
	}
	if r := s.Verify(t.Context(), snap, pgsnap.VerifyOptions{Full: true, Drill: true}); !r.OK {
		t.Fatalf("verify --full --drill of a snapshot in parts = %+v", r)
	}
	restored := f.db + "_parts"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), restored) })
	if _, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(restored)), Jobs: 2}); err != nil {
		t.Fatal(err)
	}
	rc, err := f.c.Connect(t.Context(), restored)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(context.Background())
	var sum int64
	if err := rc.QueryRow(t.Context(), "SELECT (SELECT sum(balance) FROM checking) + (SELECT sum(balance) FROM savings)").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != total {
		t.Errorf("restored checking + savings = %d, want %d: the parts are not one snapshot", sum, total)
	}
	// The rest of the database is identical to the source (no writes there).
	for _, table := range []string{`public.accounts`, `public."Quoted Name"`, `public.events_2025`} {
		want, got := tableRows(t, f, f.db, table), tableRows(t, f, restored, table)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s restored from parts differs (-source +restored):\n%s", table, diff)
		}
	}
	// Retention deletes every part.
	cfg.Retention = 1
	s = f.scheduler(t, cfg)
	time.Sleep(time.Second)
	if _, err := s.SnapshotNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, p := range snap.Parts {
		if _, err := os.Stat(filepath.Join(f.dir, p.Data)); !os.IsNotExist(err) {
			t.Errorf("part %s of the pruned snapshot: %v, want it deleted", p.Data, err)
		}
	}
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, Database: f.db})
}

// tableRows is a table's rows as text, ordered.
func tableRows(t *testing.T, f *fixture, db, table string) []string {
	t.Helper()
	conn, err := f.c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), "SELECT t::text FROM "+table+" t ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// One table of a snapshot in parts comes back whichever part holds it: export reads that part,
// restore --table --as takes the definitions from the first part and the data from its own.
func TestTablesOfASnapshotInParts(t *testing.T) {
	f := newFixture(t, `
CREATE TABLE first_big (id int PRIMARY KEY, pad text);
CREATE TABLE second_big (id int PRIMARY KEY, ref int REFERENCES first_big, pad text);
INSERT INTO first_big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 20000) g;
INSERT INTO second_big SELECT g, g, repeat(md5(g::text), 6) FROM generate_series(1, 20000) g;
COMMENT ON TABLE second_big IS 'kept apart';`)
	cfg := f.config(f.c.URL(f.db))
	cfg.DumpJobs = 2
	s := f.scheduler(t, cfg)
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Parts) != 2 || len(snap.Parts[1].Tables) != 1 {
		t.Fatalf("parts = %+v, want the second big table in a part of its own", snap.Parts)
	}
	inPart2 := strings.Trim(strings.TrimPrefix(snap.Parts[1].Tables[0], `"public".`), `"`)
	var csv strings.Builder
	if _, err := s.Export(t.Context(), snap.Name, "public."+inPart2, pgsnap.ExportCSV, &csv); err != nil {
		t.Fatalf("export of %s from part 2 = %v", inPart2, err)
	}
	if lines := strings.Count(csv.String(), "\n"); lines != 20001 {
		t.Errorf("export of %s: %d lines, want a header and 20000 rows", inPart2, lines)
	}
	res, err := s.RestoreTables(t.Context(), snap.Name, pgsnap.RestoreTablesOptions{Tables: []string{"public." + inPart2}, As: "public." + inPart2 + "_back"})
	if err != nil {
		t.Fatalf("restore --table %s --as %s_back = %v", inPart2, inPart2, err)
	}
	if len(res.Tables) != 1 || res.Tables[0].Rows != 20000 {
		t.Errorf("restored %+v, want %s with 20000 rows", res.Tables, inPart2)
	}
	if diff := cmp.Diff(tableRows(t, f, f.db, "public."+inPart2), tableRows(t, f, f.db, "public."+inPart2+"_back")); diff != "" {
		t.Errorf("%s_back differs from %s (-live +restored):\n%s", inPart2, inPart2, diff)
	}
}
