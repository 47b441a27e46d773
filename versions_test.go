package pgsnap_test

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// The servers of other majors come from scripts/fetch-postgres-majors.sh (pgtest.StartMajor
// skips without them, and fails when CI=true). The distribution ships one major only, so its
// pg_dump and pg_restore are the only client tools: an older server is dumped by a newer
// pg_dump, and a newer server has no pg_dump new enough (RELIABILITY.md T11, T37).

// versionsSQL uses only what PostgreSQL 13 has: varied column types, a sequence, a partitioned
// table, a materialized view and a large object.
const versionsSQL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE things (
  id serial PRIMARY KEY, name text NOT NULL, price numeric(12,4), raw bytea, at timestamptz,
  day date, span interval, tags text[], doc jsonb, uid uuid, ok boolean, f float8, m mood,
  total numeric GENERATED ALWAYS AS (price * 2) STORED
);
INSERT INTO things (name, price, raw, at, day, span, tags, doc, uid, ok, f, m)
SELECT 'thing ' || g || ' ünï 漢字', g * 1.2345, decode(md5(g::text), 'hex'),
       timestamptz '2024-02-29 12:00:00+00' + g * interval '1 hour', date '2000-01-01' + g,
       g * interval '90 seconds', ARRAY['a,b', NULL, 'c"d'], jsonb_build_object('n', g, 'q', 'it''s'),
       md5(g::text)::uuid, g % 2 = 0, 1.0 / g, (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood
FROM generate_series(1, 500) g;
CREATE TABLE events (id bigint, at date NOT NULL, thing int REFERENCES things) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO events SELECT g, date '2024-06-01' + g, 1 + g % 500 FROM generate_series(1, 400) g;
CREATE SEQUENCE ticket START 1000;
SELECT nextval('ticket'), nextval('ticket');
CREATE MATERIALIZED VIEW happy AS SELECT id, name FROM things WHERE m = 'happy';
SELECT lo_from_bytea(0, convert_to(repeat('large object ✓ ', 1000), 'UTF8'));
`

// TestMajorOlderServerRoundTrip dumps servers older than the installed one with the installed
// pg_dump and restores them into the installed server.
func TestMajorOlderServerRoundTrip(t *testing.T) {
	invariants.Fault(t, "T11", "T37")
	dst := pgtest.Get(t)
	for _, major := range []int{13, 14} {
		t.Run("PG"+strconv.Itoa(major), func(t *testing.T) {
			src := pgtest.StartMajor(t, major)
			db := src.CreateDB(t)
			if err := src.Exec(t.Context(), db, versionsSQL); err != nil {
				t.Fatal(err)
			}
			s := versionsScheduler(t, src.URL(db), filepath.Join(t.TempDir(), "snapshots"))
			snap, err := s.SnapshotNow(t.Context())
			if err != nil {
				t.Fatalf("SnapshotNow of PostgreSQL %d = %v, want a snapshot", major, err)
			}
			if got := majorOf(snap.ServerVersion); got != major {
				t.Errorf("snapshot ServerVersion = %q, want PostgreSQL %d", snap.ServerVersion, major)
			}
			if got := majorOf(snap.PGDumpVersion); got != dst.Version {
				t.Errorf("snapshot PGDumpVersion = %q, want the installed pg_dump %d", snap.PGDumpVersion, dst.Version)
			}

			restored := dst.CreateDB(t) // empty: Restore accepts it
			if _, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(dst.URL(restored))}); err != nil {
				t.Fatalf("Restore of a PostgreSQL %d snapshot into PostgreSQL %d = %v, want nil", major, dst.Version, err)
			}
			want, got := src.FingerprintDB(t, db), dst.FingerprintDB(t, restored)
			if len(want) < 6 {
				t.Fatalf("source fingerprint has %d entries, want tables, partitions, sequences, view and large object: %v", len(want), want)
			}
			result := "identical"
			if diff := cmp.Diff(want, got); diff != "" {
				result = "DIFFERENT"
				t.Errorf("database restored into PostgreSQL %d differs from its PostgreSQL %d source (-source +restored):\n%s", dst.Version, major, diff)
			}
			invariants.Report(t, "T11/T37 dump PG%d with pg_dump %d, restore into PG%d: %s (%d relations and large objects)",
				major, majorOf(snap.PGDumpVersion), dst.Version, result, len(want))
		})
	}
}

// TestMajorNewerServerRefused snapshots a server newer than every installed pg_dump: it must
// be refused before dumping, naming both majors and the setting that fixes it, and leave
// nothing behind.
func TestMajorNewerServerRefused(t *testing.T) {
	invariants.Fault(t, "T11", "T37")
	installed := pgtest.Get(t).Version
	const major = 17
	src := pgtest.StartMajor(t, major)
	db := src.CreateDB(t)
	if err := src.Exec(t.Context(), db, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	s := versionsScheduler(t, src.URL(db), dir)

	snap, err := s.SnapshotNow(t.Context())
	if err == nil {
		t.Fatalf("SnapshotNow of PostgreSQL %d with pg_dump %d = %s, want an error", major, installed, snap.Name)
	}
	var missing []string
	for _, want := range []string{versionToken(major), versionToken(installed), `SNAPSHOT_PG_BIN_DIR`} {
		if !regexp.MustCompile(want).MatchString(err.Error()) {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		t.Errorf("SnapshotNow of PostgreSQL %d = %v, want it to name PostgreSQL %d, %d and SNAPSHOT_PG_BIN_DIR (missing %q)", major, err, major, installed, missing)
	}
	snaps, lerr := s.List(t.Context())
	if lerr != nil || len(snaps) != 0 {
		t.Errorf("List after the refused snapshot = %v, %v, want none", snaps, lerr)
	}
	left := filesUnder(t, dir)
	if len(left) != 0 {
		t.Errorf("files in SNAPSHOT_DIR after the refused snapshot = %q, want none", left)
	}
	result := "refused before dump"
	if len(missing) > 0 || len(snaps) != 0 || len(left) != 0 {
		result = "NOT CLEANLY REFUSED"
	}
	invariants.Report(t, "T11/T37 snapshot PG%d with pg_dump %d: %s, listed %d, files left %d: %s",
		major, installed, result, len(snaps), len(left), firstErrLine(err))
}

// TestMajorRestoreIntoOlderServerRefused restores a snapshot of the installed server into an
// older one: refused, naming both majors, with no database left on the older server.
func TestMajorRestoreIntoOlderServerRefused(t *testing.T) {
	invariants.Fault(t, "T11", "T37")
	src := pgtest.Get(t)
	const major = 13
	db := src.CreateDB(t)
	if err := src.Exec(t.Context(), db, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)"); err != nil {
		t.Fatal(err)
	}
	s := versionsScheduler(t, src.URL(db), filepath.Join(t.TempDir(), "snapshots"))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	dst := pgtest.StartMajor(t, major)
	before := databases(t, dst)
	_, err = s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(dst.URL("restored"))})
	if err == nil {
		t.Fatalf("Restore of a PostgreSQL %d snapshot into PostgreSQL %d = nil, want an error", src.Version, major)
	}
	var missing []string
	for _, want := range []string{versionToken(major), versionToken(src.Version), `older than the snapshot's source server`} {
		if !regexp.MustCompile(want).MatchString(err.Error()) {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		t.Errorf("Restore into PostgreSQL %d = %v, want it to name PostgreSQL %d and %d and say the target is older (missing %q)", major, err, major, src.Version, missing)
	}
	after := databases(t, dst)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("databases of the PostgreSQL %d server changed by the refused restore (-before +after):\n%s", major, diff)
	}
	result := "refused"
	if len(missing) > 0 || !cmp.Equal(before, after) {
		result = "NOT CLEANLY REFUSED"
	}
	invariants.Report(t, "T11/T37 restore PG%d snapshot into PG%d: %s, databases left %d: %s",
		src.Version, major, result, len(after)-len(before), firstErrLine(err))
}

// versionsScheduler returns a scheduler for url storing in dir, logging to the test.
func versionsScheduler(t *testing.T, url, dir string) *pgsnap.Scheduler {
	t.Helper()
	cfg := pgsnap.DefaultConfig()
	cfg.DatabaseURL = pgsnap.ConnString(url)
	cfg.Dir = dir
	cfg.Timeout = 2 * time.Minute
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := pgsnap.New(cfg, pgsnap.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// majorOf returns the major of a version like "13.23" or "15.14 (Debian ...)", 0 if none.
func majorOf(version string) int {
	end := strings.IndexFunc(version, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(version)
	}
	n, _ := strconv.Atoi(version[:end])
	return n
}

// versionToken matches major as a version on its own ("17", "17.10"), not inside a number.
func versionToken(major int) string {
	return `(^|[^0-9.])` + strconv.Itoa(major) + `(\.[0-9]+)*($|[^0-9.])`
}

// filesUnder lists everything below dir (relative paths), none when dir does not exist.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			rel, _ := filepath.Rel(dir, path)
			found = append(found, rel)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return found
}

// databases lists the server's databases by name.
func databases(t *testing.T, c *pgtest.Cluster) []string {
	t.Helper()
	conn, err := c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	rows, err := conn.Query(t.Context(), "SELECT datname FROM pg_database ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func firstErrLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}
