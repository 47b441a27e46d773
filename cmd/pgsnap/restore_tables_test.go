package main

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

const accountsSQL = `
CREATE SCHEMA app;
CREATE TABLE app.customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE app.accounts (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES app.customers,
  email text UNIQUE, balance numeric(12,2), note text);
CREATE INDEX accounts_balance ON app.accounts (balance);
COMMENT ON TABLE app.accounts IS 'customer accounts';
CREATE TABLE public.audit (id int PRIMARY KEY, what text);
INSERT INTO app.customers (name) SELECT 'c' || g FROM generate_series(1, 20) g;
INSERT INTO app.accounts (customer_id, email, balance, note)
  SELECT 1 + g % 20, 'u' || g || '@x', g * 1.5, CASE WHEN g % 7 = 0 THEN NULL ELSE E'n,"\n' || g END FROM generate_series(1, 3000) g;
INSERT INTO public.audit SELECT g, 'a' || g FROM generate_series(1, 50) g;`

// The acceptance as a user runs it: after rows were deleted, restore --table
// app.accounts --as public.accounts_back into the source database (DATABASE_URL, the default
// target) brings back the snapshot's rows, names the foreign key it left out, and leaves every
// other object untouched; the same again is refused (exit 1), options of a whole restore are
// refused with --table (exit 2).
func TestRestoreTableAsFromTheCommandLine(t *testing.T) {
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, accountsSQL); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": filepath.Join(t.TempDir(), "snapshots")}
	r := runPgsnap(t, env, "snapshot")
	if r.code != 0 {
		t.Fatalf("snapshot: exit %d", r.code)
	}
	name := lastLine(r.stdout)
	atSnapshot := c.FingerprintDB(t, db)
	if err := c.Exec(t.Context(), db, "DELETE FROM app.accounts WHERE id % 10 < 6"); err != nil {
		t.Fatal(err)
	}
	live := c.FingerprintDB(t, db)

	r = runPgsnap(t, env, "restore", name, "--table", "app.accounts", "--as", "public.accounts_back")
	if r.code != 0 {
		t.Fatalf("restore --table --as: exit %d", r.code)
	}
	if !strings.Contains(r.stdout, "restored app.accounts as public.accounts_back: 3000 rows") ||
		!strings.Contains(r.stdout, "left out app.accounts: foreign key accounts_customer_id_fkey to app.customers") {
		t.Errorf("restore --table --as printed %q; want the table with its rows and the foreign key left out", r.stdout)
	}
	after := c.FingerprintDB(t, db)
	if got, want := after[`"public"."accounts_back"`], atSnapshot[`"app"."accounts"`]; got != want {
		t.Errorf("public.accounts_back = %s, want the snapshot's app.accounts %s", got, want)
	}
	rest := maps.Clone(after)
	delete(rest, `"public"."accounts_back"`)
	delete(rest, `"public"."accounts_back_id_seq"`)
	if diff := cmp.Diff(live, rest); diff != "" {
		t.Errorf("the restore changed other objects (-before +after):\n%s", diff)
	}
	r = runPgsnap(t, env, "restore", name, "--table", "app.accounts", "--as", "public.accounts_back")
	if r.code != 1 || !strings.Contains(r.stderr, "public.accounts_back already exists") {
		t.Errorf("restore as an existing name: exit %d; want 1 and a refusal naming it", r.code)
	}
	for _, args := range [][]string{
		{"restore", name, "--table", "app.accounts", "--clean"},
		{"restore", name, "--as", "public.x"},
		{"restore", name, "--table", "app.accounts", "--schema", "app"},
		{"restore", name, "--table", "app.nope"},
	} {
		if r := runPgsnap(t, env, args...); r.code != 2 {
			t.Errorf("pgsnap %s: exit %d, want 2", strings.Join(args, " "), r.code)
		}
	}
	if diff := cmp.Diff(after, c.FingerprintDB(t, db)); diff != "" {
		t.Errorf("refused restores changed the database (-before +after):\n%s", diff)
	}
}

// diff between the two newest snapshots, as text and as JSON: the rows deleted, a table dropped
// and one added, an index added.
func TestDiffFromTheCommandLine(t *testing.T) {
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, accountsSQL); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": filepath.Join(t.TempDir(), "snapshots")}
	var names []string
	for i, change := range []string{"", `DELETE FROM app.accounts WHERE id > 1200; DROP TABLE public.audit;
		CREATE TABLE public.refunds (id int); CREATE INDEX accounts_email_lower ON app.accounts (lower(email))`} {
		if i > 0 {
			waitNextSecond()
			if err := c.Exec(t.Context(), db, change); err != nil {
				t.Fatal(err)
			}
		}
		r := runPgsnap(t, env, "snapshot")
		if r.code != 0 {
			t.Fatalf("snapshot: exit %d", r.code)
		}
		names = append(names, lastLine(r.stdout))
	}
	r := runPgsnap(t, env, "diff")
	for _, want := range [][]string{
		{"A", names[0]}, {"B", names[1]},
		{"app.accounts", "3000", "1200", "-1800", "(-60.0%)"},
		{"app.customers", "20", "20", "0"},
		{"public.audit", "50", "-", "removed"},
		{"public.refunds", "-", "0", "added"},
		{"INDEX", "app", "accounts_email_lower"},
		{"TABLE", "public", "refunds"},
		{"TABLE", "public", "audit"},
	} {
		if !hasLineStarting(r.stdout, want) {
			t.Errorf("diff: no line %q in\n%s", strings.Join(want, " "), r.stdout)
		}
	}
	if r.code != 0 || !strings.Contains(r.stdout, "Objects removed in B") {
		t.Errorf("diff: exit %d", r.code)
	}
	r = runPgsnap(t, env, "diff", "--json", names[0], names[1])
	var d struct {
		A, B   struct{ Name string }
		Tables []struct {
			Schema, Name, Status string
			RowsA                *int64 `json:"rows_a"`
			RowsB                *int64 `json:"rows_b"`
			Change               int64
		}
		Added, Removed []struct{ Type, Schema, Name string }
		SizeChange     int64 `json:"size_change"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || r.code != 0 {
		t.Fatalf("diff --json: exit %d, %v", r.code, err)
	}
	if d.A.Name != names[0] || d.B.Name != names[1] || len(d.Tables) != 4 || d.Tables[0].Name != "accounts" ||
		d.Tables[0].Change != -1800 || d.Tables[0].Status != "changed" || *d.Tables[0].RowsB != 1200 ||
		d.Tables[2].Name != "audit" || d.Tables[2].Status != "removed" || d.Tables[2].RowsB != nil {
		t.Errorf("diff --json = %+v", d)
	}
	if len(d.Added) != 2 || len(d.Removed) != 2 || d.SizeChange >= 0 {
		t.Errorf("diff --json: added %v, removed %v, size change %d; want an index and a table added, a table and its primary key removed, smaller", d.Added, d.Removed, d.SizeChange)
	}
	if r := runPgsnap(t, env, "diff", names[0], names[1], names[0]); r.code != 2 {
		t.Errorf("diff with three names: exit %d, want 2", r.code)
	}
}

// hasLineStarting reports whether a line of s starts with the fields want.
func hasLineStarting(s string, want []string) bool {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(want) && slices.Equal(f[:len(want)], want) {
			return true
		}
	}
	return false
}
