package pgsnap_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// Repro of the trust review: restore --clean --stream of a snapshot damaged in the middle of
// its compressed stream used to drop the target before the stream's hash was known. Now the
// damage fails the restore in its scratch database, and the target keeps every row.
func TestRestoreOfDamagedStreamLeavesTargetAsItWas(t *testing.T) {
	invariants.Fault(t, "T37")
	f := newFixture(t, verifySQL)
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	target := f.db + "_precious"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), target) })
	if err := f.c.CreateDatabase(t.Context(), target); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Exec(t.Context(), target, "CREATE TABLE precious AS SELECT g AS id, 'keep me ' || g AS note FROM generate_series(1, 3000) g"); err != nil {
		t.Fatal(err)
	}
	before := f.c.FingerprintDB(t, target)
	flipMiddleByte(t, filepath.Join(f.dir, snap.Data))

	_, err = s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(target)), Clean: true, Stream: true})
	var ce *pgsnap.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("restore --clean --stream of a damaged snapshot = %v, want a *CorruptError", err)
	}
	if diff := cmp.Diff(before, f.c.FingerprintDB(t, target)); diff != "" {
		t.Errorf("the target changed although the restore failed (-before +after):\n%s", diff)
	}
	if left := scratchDatabases(t, f); len(left) > 0 {
		t.Errorf("scratch databases left: %v", left)
	}
	invariants.AssertNoSessions(t, f.c, "")
	invariants.Report(t, "T37 restore --clean --stream of a damaged snapshot: refused at its end (%v), target rows kept %d tables", firstLine(err), len(before))
}

// The old target is replaced only once the restore is proven, and then only when no one else is
// connected to it (or --force-disconnect ends them); --keep-old keeps it aside.
func TestRestoreSwapsOnlyProvenDatabase(t *testing.T) {
	f := newFixture(t, verifySQL)
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	target := f.db + "_swap"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), target) })
	if err := f.c.CreateDatabase(t.Context(), target); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Exec(t.Context(), target, "CREATE TABLE old_table AS SELECT 1 AS x"); err != nil {
		t.Fatal(err)
	}
	opts := pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(target)), Jobs: 2}

	// Without --clean a target with tables is refused.
	if _, err := s.RestoreTo(t.Context(), snap.Name, opts); err == nil || !strings.Contains(err.Error(), "--clean") {
		t.Fatalf("restore into a target with tables = %v, want a refusal naming --clean", err)
	}
	// Another session on the target: the swap fails, the target as it was, no scratch left.
	other, err := f.c.Connect(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	opts.Clean = true
	_, err = s.RestoreTo(t.Context(), snap.Name, opts)
	if err == nil || !strings.Contains(err.Error(), "other sessions") || !strings.Contains(err.Error(), "--force-disconnect") {
		t.Fatalf("restore --clean with another session on the target = %v, want a failure naming the sessions and --force-disconnect", err)
	}
	var n int
	if err := other.QueryRow(t.Context(), "SELECT count(*) FROM old_table").Scan(&n); err != nil || n != 1 {
		t.Fatalf("old_table after the failed swap: %d rows, %v; want the target untouched", n, err)
	}
	if left := scratchDatabases(t, f); len(left) > 0 {
		t.Errorf("scratch databases left: %v", left)
	}
	// --force-disconnect ends that session; --keep-old keeps the old database aside.
	opts.ForceDisconnect, opts.KeepOld = true, true
	res, err := s.RestoreTo(t.Context(), snap.Name, opts)
	if err != nil {
		t.Fatalf("restore --clean --force-disconnect --keep-old = %v", err)
	}
	other.Close(context.Background())
	if !res.Replaced || res.KeptOld == "" || res.Tables == 0 {
		t.Errorf("RestoreTo = %+v, want the target replaced, the old one kept, tables proven", res)
	}
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), res.KeptOld) })
	if diff := cmp.Diff(f.c.FingerprintDB(t, f.db), f.c.FingerprintDB(t, target)); diff != "" {
		t.Errorf("restored database differs (-source +restored):\n%s", diff)
	}
	if err := f.c.Exec(t.Context(), res.KeptOld, "SELECT x FROM old_table"); err != nil {
		t.Errorf("the kept old database %s lacks its table: %v", res.KeptOld, err)
	}
	// Without --keep-old the replaced database is dropped.
	opts.KeepOld = false
	res, err = s.RestoreTo(t.Context(), snap.Name, opts)
	if err != nil || res.KeptOld != "" {
		t.Fatalf("restore --clean again = %+v, %v; want the old one dropped", res, err)
	}
	if left := scratchDatabases(t, f); len(left) > 0 {
		t.Errorf("scratch databases left: %v", left)
	}
	invariants.AssertNoSessions(t, f.c, "")
}

// A database's own properties travel: encoding, locale provider, collation, ctype and ICU locale,
// its settings, comment, connection limit and grants, whether the target is new or replaced.
func TestRestoreKeepsDatabaseProperties(t *testing.T) {
	invariants.Fault(t, "T36")
	f := newFixture(t, "")
	if err := f.c.Exec(t.Context(), "postgres", `
DO $$ BEGIN CREATE ROLE pgsnap_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, create string
	}{
		{"latin1", "ENCODING 'LATIN1' LOCALE 'C' TEMPLATE template0"},
		{"icu", "LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' LOCALE 'C.UTF-8' ENCODING 'UTF8' TEMPLATE template0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := f.db + "_" + tc.name
			if err := f.c.Exec(t.Context(), "postgres", "CREATE DATABASE "+src+" "+tc.create); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.c.DropDatabase(context.Background(), src) })
			for _, stmt := range []string{
				"ALTER DATABASE " + src + " SET search_path TO 'public', 'extra'",
				"ALTER DATABASE " + src + " SET work_mem TO '7MB'",
				"ALTER DATABASE " + src + " CONNECTION LIMIT 7",
				"COMMENT ON DATABASE " + src + " IS 'it''s the source, DATABASE " + src + " in words'",
				"REVOKE CONNECT, TEMPORARY ON DATABASE " + src + " FROM PUBLIC",
				"GRANT CONNECT ON DATABASE " + src + " TO pgsnap_reader",
			} {
				if err := f.c.Exec(t.Context(), "postgres", stmt); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.c.Exec(t.Context(), src, "CREATE TABLE words (w text); INSERT INTO words VALUES ('a'), ('B'), ('ä'), ('z'), ('Ö')"); err != nil {
				t.Fatal(err)
			}
			cfg := f.config(f.c.URL(src))
			cfg.Target = tc.name
			s := f.scheduler(t, cfg)
			snap, err := s.SnapshotNow(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := databaseProperties(t, f.c, src, src)
			for _, clean := range []bool{false, true} {
				dst := src + "_new"
				t.Cleanup(func() { f.c.DropDatabase(context.Background(), dst) })
				if clean {
					// An existing target with other properties: --clean replaces them too.
					if err := f.c.Exec(t.Context(), dst, "CREATE TABLE unrelated (x int)"); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(dst)), Clean: clean}); err != nil {
					t.Fatalf("restore (clean %v) = %v", clean, err)
				}
				if diff := cmp.Diff(want, databaseProperties(t, f.c, dst, src)); diff != "" {
					t.Errorf("%s restored into %s (clean %v): properties differ (-source +restored):\n%s", tc.name, dst, clean, diff)
				}
			}
			invariants.Report(t, "T36 database properties of a %s source restored into a new name and with --clean: identical (%d properties)", tc.name, len(want))
		})
	}
}

// databaseProperties reads what a database has of its own, with its name written as from.
func databaseProperties(t *testing.T, c *pgtest.Cluster, db, as string) map[string]string {
	t.Helper()
	conn, err := c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	props := map[string]string{}
	var enc, prov, collate, ctype, icu, limit, acl, comment, settings string
	err = conn.QueryRow(t.Context(), `
SELECT pg_encoding_to_char(d.encoding), d.datlocprovider::text, d.datcollate, d.datctype, coalesce(d.daticulocale, ''),
       d.datconnlimit::text, coalesce(d.datacl::text, ''), coalesce(shobj_description(d.oid, 'pg_database'), ''),
       coalesce((SELECT array_to_string(array(SELECT unnest(s.setconfig) ORDER BY 1), ';') FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0), '')
FROM pg_database d WHERE datname = $1`, db).Scan(&enc, &prov, &collate, &ctype, &icu, &limit, &acl, &comment, &settings)
	if err != nil {
		t.Fatalf("properties of %s: %v", db, err)
	}
	props["encoding"], props["locale provider"], props["collate"], props["ctype"], props["icu locale"] = enc, prov, collate, ctype, icu
	props["connection limit"], props["acl"], props["settings"] = limit, acl, settings
	props["comment"] = strings.ReplaceAll(comment, db, as)
	sorted, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer sorted.Close(context.Background())
	var order string
	if err := sorted.QueryRow(t.Context(), "SELECT string_agg(w, ',' ORDER BY w) FROM words").Scan(&order); err != nil {
		t.Fatal(err)
	}
	props["sort order"] = order
	return props
}

// The targets a restore must never take: the server's own databases, and the snapshot's own
// source without --force.
func TestRestoreGuards(t *testing.T) {
	invariants.Fault(t, "T37")
	f := newFixture(t, "CREATE TABLE t AS SELECT 1 AS x")
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{"template0", "template1", "postgres"} {
		_, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(db)), Clean: true, Force: true})
		if err == nil || !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("restore into %s = %v, want a refusal naming it", db, err)
		}
	}
	before := f.c.FingerprintDB(t, f.db)
	_, err = s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(f.db)), Clean: true})
	if err == nil || !strings.Contains(err.Error(), "own source") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore --clean into the snapshot's own source = %v, want a refusal naming --force", err)
	}
	if diff := cmp.Diff(before, f.c.FingerprintDB(t, f.db)); diff != "" {
		t.Errorf("the source changed (-before +after):\n%s", diff)
	}
	if _, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(f.db)), Clean: true, Force: true, ForceDisconnect: true}); err != nil {
		t.Fatalf("restore --clean --force into the own source = %v, want it done", err)
	}
	if diff := cmp.Diff(before, f.c.FingerprintDB(t, f.db)); diff != "" {
		t.Errorf("the source restored from its own snapshot differs (-before +after):\n%s", diff)
	}
	invariants.Report(t, "T37 guards: template0, template1, postgres refused 3/3; own source refused without --force 1/1")
}

func flipMiddleByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
