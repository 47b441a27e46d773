package pgsnap_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// tablesSQL is a schema whose tables come with everything a table restore must bring: a serial
// id whose sequence is ahead of the rows, an identity column, indexes, a unique and a check
// constraint, foreign keys to another table, to itself and from another table, comments, a
// grant, and a trigger that must not fire while rows are restored (it fills NULL notes).
const tablesSQL = `
CREATE SCHEMA app;
CREATE TABLE app.customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE app.accounts (
  id serial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES app.customers,
  parent int REFERENCES app.accounts,
  email text UNIQUE,
  balance numeric(12,2) CHECK (balance >= 0),
  note text);
CREATE INDEX accounts_lower_email ON app.accounts (lower(email));
COMMENT ON TABLE app.accounts IS 'customer accounts';
COMMENT ON COLUMN app.accounts.email IS 'login';
GRANT SELECT ON app.accounts TO PUBLIC;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.note := coalesce(NEW.note, 'touched'); RETURN NEW; END$$;
CREATE TRIGGER accounts_touch BEFORE INSERT ON app.accounts FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE TABLE app.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id int REFERENCES app.accounts, total numeric);
CREATE TABLE public.other (id int PRIMARY KEY, v text);
INSERT INTO app.customers (name) SELECT 'c' || g FROM generate_series(1, 50) g;
ALTER TABLE app.accounts DISABLE TRIGGER accounts_touch;
INSERT INTO app.accounts (customer_id, email, balance, note)
  SELECT 1 + g % 50, 'u' || g || '@x', g, CASE WHEN g % 3 = 0 THEN NULL ELSE E'n\n' || g END FROM generate_series(1, 1000) g;
ALTER TABLE app.accounts ENABLE TRIGGER accounts_touch;
UPDATE app.accounts SET parent = id - 1 WHERE id > 1;
INSERT INTO app.orders (account_id, total) SELECT 1 + g % 1000, g FROM generate_series(1, 2000) g;
INSERT INTO public.other SELECT g, 'o' || g FROM generate_series(1, 100) g;
SELECT setval('app.accounts_id_seq', 5000);
`

// incidentSQL deletes most accounts, as a mistaken statement would.
const incidentSQL = `DELETE FROM app.orders WHERE account_id > 400; DELETE FROM app.accounts WHERE id > 400`

// The acceptance through the library: restore --table app.accounts --as
// public.accounts_back into the source database after an incident brings the snapshot's rows
// back beside the live table, with its sequence (renamed, its value kept), indexes,
// constraints, comments, grant and trigger; a foreign key to a table not restored is left out
// and named; nothing else changes; a second restore under the same name is refused.
func TestRestoreTableAsBesideTheLiveOne(t *testing.T) {
	f := newFixture(t, tablesSQL)
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	atSnapshot := f.c.FingerprintDB(t, f.db)
	if err := f.c.Exec(t.Context(), f.db, incidentSQL); err != nil {
		t.Fatal(err)
	}
	live := f.c.FingerprintDB(t, f.db)

	res, err := s.RestoreTables(t.Context(), snap.Name, pgsnap.RestoreTablesOptions{Tables: []string{"app.accounts"}, As: "public.accounts_back"})
	if err != nil {
		t.Fatal(err)
	}
	want := []pgsnap.RestoredTable{{From: "app.accounts", To: "public.accounts_back", Rows: 1000}}
	if diff := cmp.Diff(want, res.Tables); diff != "" || res.Database != f.db {
		t.Errorf("restored into %s (-want +got):\n%s", res.Database, diff)
	}
	after := f.c.FingerprintDB(t, f.db)
	if got, want := after[`"public"."accounts_back"`], atSnapshot[`"app"."accounts"`]; got != want {
		t.Errorf("public.accounts_back = %s, want the snapshot's app.accounts %s", got, want)
	}
	if got, want := after[`"public"."accounts_back_id_seq"`], atSnapshot[`"app"."accounts_id_seq"`]; got != want {
		t.Errorf("the owned sequence, renamed accounts_back_id_seq: %s, want the snapshot's %s", got, want)
	}
	rest := maps.Clone(after)
	delete(rest, `"public"."accounts_back"`)
	delete(rest, `"public"."accounts_back_id_seq"`)
	if diff := cmp.Diff(live, rest); diff != "" {
		t.Errorf("the restore changed other objects (-before +after):\n%s", diff)
	}
	if len(res.LeftOut) != 2 || !strings.Contains(res.LeftOut[0], "accounts_customer_id_fkey to app.customers") ||
		!strings.Contains(res.LeftOut[1], "orders_account_id_fkey from app.orders") {
		t.Errorf("LeftOut = %q, want the foreign keys to app.customers and from app.orders", res.LeftOut)
	}
	checks := map[string]string{
		"indexes": `SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY indexrelid::regclass::text) FROM pg_index WHERE indrelid = 'public.accounts_back'::regclass`,
		"constraints": `SELECT string_agg(conname || ':' || contype::text || ':' || coalesce(nullif(confrelid, 0)::regclass::text, '-'), ',' ORDER BY conname)
			FROM pg_constraint WHERE conrelid = 'public.accounts_back'::regclass`,
		"comments": `SELECT obj_description('public.accounts_back'::regclass, 'pg_class') || '/' || col_description('public.accounts_back'::regclass, 4)`,
		"grant":    `SELECT relacl::text LIKE '%=r/%' FROM pg_class WHERE oid = 'public.accounts_back'::regclass`,
		"trigger":  `SELECT string_agg(tgname || ':' || tgfoid::regproc::text, ',') FROM pg_trigger WHERE tgrelid = 'public.accounts_back'::regclass AND NOT tgisinternal`,
		"default":  `SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'public.accounts_back'::regclass`,
	}
	wantChecks := map[string]string{
		"indexes":     "accounts_back_email_key,accounts_back_lower_email,accounts_back_pkey",
		"constraints": "accounts_back_email_key:u:-,accounts_back_pkey:p:-,accounts_balance_check:c:-,accounts_parent_fkey:f:accounts_back",
		"comments":    "customer accounts/login",
		"grant":       "true",
		"trigger":     "accounts_touch:app.touch",
		"default":     "nextval('accounts_back_id_seq'::regclass)",
	}
	for name, sql := range checks {
		if got := queryText(t, f.c, f.db, sql); got != wantChecks[name] {
			t.Errorf("%s of public.accounts_back = %q, want %q", name, got, wantChecks[name])
		}
	}
	// The same name again: refused, nothing changed.
	_, err = s.RestoreTables(t.Context(), snap.Name, pgsnap.RestoreTablesOptions{Tables: []string{"app.accounts"}, As: "public.accounts_back"})
	if err == nil || !strings.Contains(err.Error(), "public.accounts_back already exists") {
		t.Errorf("a second restore as public.accounts_back = %v, want a refusal naming it", err)
	}
	// Without --as the live table's name is taken.
	_, err = s.RestoreTables(t.Context(), snap.Name, pgsnap.RestoreTablesOptions{Tables: []string{"app.accounts"}})
	if err == nil || !strings.Contains(err.Error(), "app.accounts already exists") || !strings.Contains(err.Error(), "--as") {
		t.Errorf("restore of app.accounts over the live one = %v, want a refusal suggesting --as", err)
	}
	if diff := cmp.Diff(after, f.c.FingerprintDB(t, f.db)); diff != "" {
		t.Errorf("refused restores changed the database (-before +after):\n%s", diff)
	}
	if left := scratchDatabases(t, f); len(left) > 0 {
		t.Errorf("scratch databases left: %v", left)
	}
	t.Logf("restored %s as %s: %d rows beside %d live; left out: %q", want[0].From, want[0].To, res.Tables[0].Rows, 400, res.LeftOut)
}

// --schema restores a whole schema, with the foreign keys between its tables, into a database
// that lacks it (refused where it exists, unless --as); two tables restored together keep the
// foreign key between them.
func TestRestoreSchemaAndTablesTogether(t *testing.T) {
	f := newFixture(t, tablesSQL)
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	source := f.c.FingerprintDB(t, f.db)
	other := f.db + "_other"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), other) })
	if err := f.c.CreateDatabase(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Exec(t.Context(), other, "CREATE TABLE mine AS SELECT g AS id FROM generate_series(1, 10) g"); err != nil {
		t.Fatal(err)
	}
	res, err := s.RestoreTables(t.Context(), snap.Name, pgsnap.RestoreTablesOptions{Target: pgsnap.ConnString(f.c.URL(other)), Schemas: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tables) != 3 || len(res.LeftOut) != 0 || !slices.Equal(res.Schemas, []string{"app"}) {
		t.Errorf("restore --schema app = %+v, want 3 tables, no foreign key left out", res)
	}
	got := f.c.FingerprintDB(t, other)
	for key, v := range source {
		if strings.HasPrefix(key, `"app".`) && got[key] != v {
			t.Errorf("%s = %q in the target, %q in the source", key, got[key], v)
		}
	}
	if got[`"public"."mine"`] == "" {
		t.Errorf("the target's own table is gone")
	}
	if n := queryText(t, f.c, other, `SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'app'::regnamespace`); n != "3" {
		t.Errorf("%s foreign keys in the restored schema, want 3", n)
	}
	_, err = s.RestoreTables(t.Context(), snap.Name, pgsnap.RestoreTablesOptions{Target: pgsnap.ConnString(f.c.URL(other)), Schemas: []string{"app"}})
	if err == nil || !strings.Contains(err.Error(), "schema app already exists") {
		t.Errorf("restore --schema app where it exists = %v, want a refusal", err)
	}
	// Into the source beside the live schema, under another name.
	if _, err := s.RestoreTables(t.Context(), snap.Name, pgsnap.RestoreTablesOptions{Schemas: []string{"app"}, As: "app_back"}); err != nil {
		t.Fatal(err)
	}
	got = f.c.FingerprintDB(t, f.db)
	for _, table := range []string{"customers", "accounts", "orders", "accounts_id_seq", "orders_id_seq"} {
		if a, b := source[`"app"."`+table+`"`], got[`"app_back"."`+table+`"`]; a != b || a == "" {
			t.Errorf("app_back.%s = %q, want app.%s's %q", table, b, table, a)
		}
	}
	// Two tables together: the foreign key between them stays, the one from orders is named.
	together := f.db + "_together"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), together) })
	if err := f.c.CreateDatabase(t.Context(), together); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Exec(t.Context(), together, "CREATE SCHEMA app; CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$"); err != nil {
		t.Fatal(err)
	}
	res, err = s.RestoreTables(t.Context(), snap.Name, pgsnap.RestoreTablesOptions{Target: pgsnap.ConnString(f.c.URL(together)),
		Tables: []string{"app.accounts", "customers"}})
	if err != nil {
		t.Fatal(err)
	}
	fks := queryText(t, f.c, together, `SELECT string_agg(conname || '>' || confrelid::regclass::text, ',' ORDER BY conname) FROM pg_constraint WHERE contype = 'f'`)
	if fks != "accounts_customer_id_fkey>app.customers,accounts_parent_fkey>app.accounts" || len(res.LeftOut) != 1 || !strings.Contains(res.LeftOut[0], "orders_account_id_fkey from app.orders") {
		t.Errorf("foreign keys %q, left out %q; want accounts' two, and orders' named", fks, res.LeftOut)
	}
	if left := scratchDatabases(t, f); len(left) > 0 {
		t.Errorf("scratch databases left: %v", left)
	}
}

// A table restore that fails leaves the target as it was and no scratch database: when the rows
// do not match the manifest (before the target is touched), and when the target cannot take the
// table (its trigger's function is missing there: the single transaction rolls back).
func TestRestoreTablesFailureLeavesTargetAsItWas(t *testing.T) {
	f := newFixture(t, tablesSQL)
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	target := f.db + "_target"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), target) })
	if err := f.c.CreateDatabase(t.Context(), target); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Exec(t.Context(), target, "CREATE SCHEMA app; CREATE TABLE app.kept AS SELECT g AS id FROM generate_series(1, 10) g"); err != nil {
		t.Fatal(err)
	}
	relations := `SELECT string_agg(oid::regclass::text, ',' ORDER BY oid) FROM pg_class WHERE relnamespace IN ('app'::regnamespace, 'public'::regnamespace)`
	before, rels := f.c.FingerprintDB(t, target), queryText(t, f.c, target, relations)
	opts := pgsnap.RestoreTablesOptions{Target: pgsnap.ConnString(f.c.URL(target)), Tables: []string{"app.accounts"}}

	// No app.touch() in the target: the trigger cannot be created, nothing of the table stays.
	_, err = s.RestoreTables(t.Context(), snap.Name, opts)
	if err == nil || !strings.Contains(err.Error(), "touch") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("restore into a target without the trigger's function = %v, want a failure naming it", err)
	}
	if diff := cmp.Diff(before, f.c.FingerprintDB(t, target)); diff != "" || queryText(t, f.c, target, relations) != rels {
		t.Errorf("a failed table restore changed the target (-before +after):\n%s", diff)
	}

	// A manifest whose row count the rows do not match: refused in the scratch database.
	if err := f.c.Exec(t.Context(), target, "CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$"); err != nil {
		t.Fatal(err)
	}
	before, rels = f.c.FingerprintDB(t, target), queryText(t, f.c, target, relations)
	editManifest(t, filepath.Join(f.dir, snap.Name+".json"), func(m map[string]any) {
		m["rows"].(map[string]any)[`"app"."accounts"`] = 999
	})
	_, err = s.RestoreTables(t.Context(), snap.Name, opts)
	if err == nil || !strings.Contains(err.Error(), "999") || strings.Contains(err.Error(), "dropped again") {
		t.Errorf("restore with a manifest saying 999 rows = %v, want a row count failure before the target is touched", err)
	}
	if diff := cmp.Diff(before, f.c.FingerprintDB(t, target)); diff != "" || queryText(t, f.c, target, relations) != rels {
		t.Errorf("a refused table restore changed the target (-before +after):\n%s", diff)
	}
	if left := scratchDatabases(t, f); len(left) > 0 {
		t.Errorf("scratch databases left: %v", left)
	}
	// An unknown table names close ones.
	_, err = s.RestoreTables(t.Context(), snap.Name, pgsnap.RestoreTablesOptions{Target: opts.Target, Tables: []string{"app.acounts"}})
	if !errors.Is(err, pgsnap.ErrNoTable) || !strings.Contains(err.Error(), "app.accounts") {
		t.Errorf("restore of app.acounts = %v, want ErrNoTable naming app.accounts", err)
	}
}

func editManifest(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// queryText runs sql in db and returns its one value as text ("" for NULL).
func queryText(t *testing.T, c *pgtest.Cluster, db, sql string) string {
	t.Helper()
	conn, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v *string
	if err := conn.QueryRow(t.Context(), "SELECT ("+sql+")::text").Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if v == nil {
		return ""
	}
	return *v
}
