package dump

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

const restoreSchema = `
CREATE TABLE customer (id serial PRIMARY KEY, name text NOT NULL UNIQUE, created timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customer, total numeric(12,2), note text);
CREATE INDEX ON orders (customer_id);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 500;
INSERT INTO customer (name) SELECT 'customer ' || g FROM generate_series(1, 300) g;
INSERT INTO orders (customer_id, total, note)
	SELECT 1 + g % 300, (g * 37 % 100000) / 100.0, CASE WHEN g % 5 = 0 THEN NULL ELSE md5(g::text) END
	FROM generate_series(1, 5000) g;
`

func (e env) fingerprint(t *testing.T, db string) map[string]string {
	t.Helper()
	conn, err := e.c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	fp, err := pgtest.Fingerprint(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestRestoreRoundTrip dumps a database and restores it, with two parallel jobs and the
// password in a passfile (so each worker's libpq re-opens /dev/fd/3), into a new database.
func TestRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := e.c.CreateDB(t)
	if err := e.c.Exec(t.Context(), src, restoreSchema); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "src.dump")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Dump(t.Context(), e.dumpOpts(t, e.c.URL(src)), f); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	dst := e.c.CreateDB(t)
	opts := RestoreOptions{
		Conn:    mustParse(t, e.c.URL(dst)),
		Binary:  e.pgRestore,
		Server:  e.server,
		File:    file,
		Jobs:    2,
		NoOwner: true,
	}
	if err := Restore(t.Context(), opts); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	want := e.fingerprint(t, src)
	if diff := cmp.Diff(want, e.fingerprint(t, dst)); diff != "" {
		t.Errorf("restored database differs (-source +restored):\n%s", diff)
	}
	if len(want) < 2 {
		t.Errorf("Fingerprint(source) has %d entries, want the tables", len(want))
	}

	// Restoring again over the restored copy works with --clean --if-exists.
	opts.Clean = true
	if err := Restore(t.Context(), opts); err != nil {
		t.Fatalf("Restore with Clean: %v", err)
	}
	if diff := cmp.Diff(want, e.fingerprint(t, dst)); diff != "" {
		t.Errorf("database restored twice differs (-source +restored):\n%s", diff)
	}

	// Without Clean, the second restore hits existing objects and --exit-on-error stops it.
	opts.Clean = false
	err = Restore(t.Context(), opts)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Tool != "pg_restore" || !strings.Contains(ee.Stderr, "already exists") {
		t.Errorf("Restore over existing objects = %v, want a pg_restore *ExitError saying already exists", err)
	}
}

func TestRestoreMissingFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	missing := filepath.Join(t.TempDir(), "missing.dump")
	err := Restore(t.Context(), RestoreOptions{
		Conn:   mustParse(t, e.c.URL("postgres")),
		Binary: e.pgRestore,
		Server: e.server,
		File:   missing,
		Jobs:   1,
	})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Restore of a missing file = %v, want fs.ErrNotExist naming %s", err, missing)
	}
	checkNoSecret(t, "error", err.Error(), e.c.Password)
}

func TestRestoreOptionsChecked(t *testing.T) {
	t.Parallel()
	err := Restore(t.Context(), RestoreOptions{Binary: Binary{Path: "/bin/false"}, File: "x", Jobs: 0})
	if err == nil || !strings.Contains(err.Error(), "jobs 0") {
		t.Errorf("Restore with Jobs 0 = %v, want an error about jobs", err)
	}
}
