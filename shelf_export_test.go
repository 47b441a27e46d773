package pgsnap_test

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap"
)

// diff between two snapshots: a table whose rows were deleted, one dropped, one added, an index
// added; the defaults are the newest snapshot and the one before it.
func TestDiffRowsAndObjects(t *testing.T) {
	f := newFixture(t, `CREATE TABLE orders (id int PRIMARY KEY, total numeric);
		INSERT INTO orders SELECT g, g FROM generate_series(1, 1000) g;
		CREATE TABLE audit (id int); INSERT INTO audit VALUES (1), (2);
		CREATE TABLE steady (id int); INSERT INTO steady VALUES (1)`)
	clock := &steppingClock{t: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)}
	s := f.scheduler(t, f.config(f.c.URL(f.db)), pgsnap.WithClock(clock.now))
	a, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.Exec(t.Context(), f.db, `DELETE FROM orders WHERE id > 400; DROP TABLE audit;
		CREATE TABLE refunds (id int); INSERT INTO refunds VALUES (7); CREATE INDEX orders_total ON orders (total)`); err != nil {
		t.Fatal(err)
	}
	b, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Diff(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if d.A.Name != a.Name || d.B.Name != b.Name {
		t.Fatalf("Diff defaults compared %s with %s, want %s with %s", d.A.Name, d.B.Name, a.Name, b.Name)
	}
	n := func(v int64) *int64 { return &v }
	wantTables := []pgsnap.TableChange{
		{Schema: "public", Name: "audit", RowsA: n(2), Status: pgsnap.TableRemoved},
		{Schema: "public", Name: "orders", RowsA: n(1000), RowsB: n(400), Change: -600, Status: pgsnap.TableChanged},
		{Schema: "public", Name: "refunds", RowsB: n(1), Status: pgsnap.TableAdded},
		{Schema: "public", Name: "steady", RowsA: n(1), RowsB: n(1), Status: pgsnap.TableSame},
	}
	if diff := cmp.Diff(wantTables, d.Tables); diff != "" {
		t.Errorf("Tables (-want +got):\n%s", diff)
	}
	wantAdded := []pgsnap.DiffObject{{Type: "INDEX", Schema: "public", Name: "orders_total"}, {Type: "TABLE", Schema: "public", Name: "refunds"}}
	wantRemoved := []pgsnap.DiffObject{{Type: "TABLE", Schema: "public", Name: "audit"}}
	if diff := cmp.Diff(wantAdded, d.Added); diff != "" {
		t.Errorf("Added (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRemoved, d.Removed); diff != "" {
		t.Errorf("Removed (-want +got):\n%s", diff)
	}
	if d.SizeChange != b.Size-a.Size || d.ArchiveSizeChange != b.ArchiveSize-a.ArchiveSize {
		t.Errorf("size change %d (archive %d), want %d (%d)", d.SizeChange, d.ArchiveSizeChange, b.Size-a.Size, b.ArchiveSize-a.ArchiveSize)
	}
	// Named, the other way round: the changes turn around.
	r, err := s.Diff(t.Context(), b.Name, a.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(r.Added, d.Removed) || !cmp.Equal(r.Removed, d.Added) || r.SizeChange != -d.SizeChange {
		t.Errorf("Diff(B, A) = added %v removed %v, want Diff(A, B)'s reversed", r.Added, r.Removed)
	}
	if l, err := s.Diff(t.Context(), "", "latest"); err != nil || l.A.Name != a.Name || l.B.Name != b.Name {
		t.Errorf("Diff(\"\", latest) compared %s with %s (%v), want %s with %s", l.A.Name, l.B.Name, err, a.Name, b.Name)
	}
	if _, err := s.Diff(t.Context(), a.Name, a.Name); err == nil {
		t.Errorf("Diff of a snapshot with itself succeeded")
	}
	if _, err := s.Diff(t.Context(), "", a.Name); !errors.Is(err, pgsnap.ErrNotFound) {
		t.Errorf("Diff with nothing before the oldest = %v, want ErrNotFound", err)
	}
	// A manifest without row counts (an older pgsnap's): its tables come from its table of
	// contents, their rows unknown.
	editManifest(t, filepath.Join(f.dir, a.Name+".json"), func(m map[string]any) { delete(m, "rows") })
	d, err = s.Diff(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	wantTables = []pgsnap.TableChange{
		{Schema: "public", Name: "audit", Status: pgsnap.TableRemoved},
		{Schema: "public", Name: "orders", RowsB: n(400), Status: pgsnap.TableUnknown},
		{Schema: "public", Name: "refunds", RowsB: n(1), Status: pgsnap.TableAdded},
		{Schema: "public", Name: "steady", RowsB: n(1), Status: pgsnap.TableUnknown},
	}
	if diff := cmp.Diff(wantTables, d.Tables); diff != "" {
		t.Errorf("Tables against a manifest without rows (-want +got):\n%s", diff)
	}
}

// Export through the library: the rows of one table as COPY's CSV, checked against the manifest
// and the stored bytes; Tables lists every table; an unknown table names close ones.
func TestExportThroughTheLibrary(t *testing.T) {
	f := newFixture(t, `CREATE SCHEMA app; CREATE TABLE app.accounts (id int, email text);
		INSERT INTO app.accounts SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE 'u' || g || '@x, "y"' END FROM generate_series(1, 300) g;
		CREATE TABLE public.empty (x int)`)
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	res, err := s.Export(t.Context(), snap.Name, "app.accounts", "", &got)
	if err != nil {
		t.Fatal(err)
	}
	want := copyOut(t, f, "COPY app.accounts TO STDOUT WITH (FORMAT csv, HEADER true)")
	if got.String() != want {
		t.Errorf("export differs from COPY's CSV:\n%.300s\nwant\n%.300s", got.String(), want)
	}
	if res.Rows != 300 || !res.Verified || res.Table != "app.accounts" || !cmp.Equal(res.Columns, []string{"id", "email"}) {
		t.Errorf("ExportResult = %+v, want 300 rows, verified", res)
	}
	tables, err := s.Tables(t.Context(), "latest")
	if want := []pgsnap.TableInfo{{Schema: "app", Name: "accounts", Rows: 300}, {Schema: "public", Name: "empty", Rows: 0}}; err != nil || !cmp.Equal(tables, want) {
		t.Errorf("Tables = %v, %v; want %v", tables, err, want)
	}
	got.Reset()
	if _, err := s.Export(t.Context(), snap.Name, "empty", "csv", &got); err != nil || got.String() != "x\n" {
		t.Errorf("export of an empty table = %q, %v; want the header alone", got.String(), err)
	}
	_, err = s.Export(t.Context(), snap.Name, "app.acount", "csv", &got)
	if !errors.Is(err, pgsnap.ErrNoTable) || !strings.Contains(err.Error(), "app.accounts") {
		t.Errorf("export of app.acount = %v, want ErrNoTable naming app.accounts", err)
	}
	if _, err := s.Export(t.Context(), snap.Name, "app.accounts", "xml", &got); err == nil {
		t.Errorf("export as xml succeeded")
	}
	// A damaged snapshot fails the export.
	flipMiddleByte(t, filepath.Join(f.dir, snap.Data))
	if res, err := s.Export(t.Context(), snap.Name, "app.accounts", "csv", io.Discard); err == nil {
		t.Errorf("export of a damaged snapshot = %+v, want an error", res)
	} else {
		t.Logf("export of a damaged snapshot: %v", err)
	}
}

// copyOut runs a COPY ... TO STDOUT in the fixture's database.
func copyOut(t *testing.T, f *fixture, sql string) string {
	t.Helper()
	conn, err := f.c.Connect(t.Context(), f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var b bytes.Buffer
	if _, err := conn.PgConn().CopyTo(t.Context(), &b, sql); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
