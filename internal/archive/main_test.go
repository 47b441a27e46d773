package archive

import (
	"bytes"
	"context"
	"flag"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// A fuzz worker runs only FuzzCounter, which needs no server; it would otherwise start a
	// cluster of its own each time the fuzzer starts it.
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	pgtest.Main(m)
}

// fixtureSQL creates the objects whose dump the tests read: tables of every shape row counting
// must cope with, and entries that have data but are not tables (a large object, a sequence, a
// materialized view).
const fixtureSQL = `
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, balance numeric);
INSERT INTO accounts SELECT g, 'account ' || g, g * 1.5 FROM generate_series(1, 25) g;
COMMENT ON TABLE accounts IS 'a comment
over two lines';

CREATE TABLE empty_table (id int);

CREATE TABLE texts (id serial PRIMARY KEY, body text, raw bytea);
INSERT INTO texts (body, raw) VALUES
	(E'line one\nline two\n', E'\\x0a0d0a'),
	(E'tab\there', E'\\x5c2e0a'),
	(E'back\\slash \\. and \\N', NULL),
	(E'\\.', E'\\x'),
	('ünïcødé 日本語 🐘', NULL),
	(NULL, NULL),
	('', ''),
	(E'\r\n\r', E'\\x00');

CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Weird ""Table"" ünï" (id int, "odd col" text);
INSERT INTO "Odd Schema"."Weird ""Table"" ünï" SELECT g, E'v\n' || g FROM generate_series(1, 7) g;

CREATE TABLE measurements (id int, at date NOT NULL, v float8) PARTITION BY RANGE (at);
CREATE TABLE measurements_2023 PARTITION OF measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE measurements_other PARTITION OF measurements DEFAULT;
INSERT INTO measurements SELECT g, date '2023-12-10' + g, g / 3.0 FROM generate_series(1, 40) g;
INSERT INTO measurements VALUES (41, '2030-01-01', 0);

CREATE SEQUENCE counter_seq;
SELECT nextval('counter_seq') FROM generate_series(1, 5);

SELECT lo_from_bytea(0, convert_to(repeat(E'large\nobject\n', 20), 'UTF8'));
SELECT lo_from_bytea(0, E'\\x010a0a0a'::bytea);

CREATE MATERIALIZED VIEW account_names AS SELECT name FROM accounts;
`

// fixtureRows is the row count of every table of fixtureSQL.
var fixtureRows = map[string]int64{
	"public.accounts":              25,
	"public.empty_table":           0,
	"public.texts":                 8,
	`Odd Schema.Weird "Table" ünï`: 7,
	"public.measurements_2023":     21,
	"public.measurements_2024":     19,
	"public.measurements_other":    1,
}

// bigRows is the row count of the fixture's largest table.
const bigRows = 100_000

const bigSQL = `
CREATE TABLE big (id bigint PRIMARY KEY, payload text);
INSERT INTO big SELECT g, md5(g::text) || E'\t' || g FROM generate_series(1, 100000) g;
`

// newDB creates a database on the package cluster and runs sql in it.
func newDB(t testing.TB, sql string) (*pgtest.Cluster, string) {
	t.Helper()
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, sql); err != nil {
		t.Fatal(err)
	}
	return c, db
}

// binary returns the path of a PostgreSQL client program: the cluster's own, else the
// Debian PostgreSQL 15 one.
func binary(t testing.TB, c *pgtest.Cluster, name string) string {
	t.Helper()
	for _, dir := range []string{c.BinDir, "/usr/lib/postgresql/15/bin"} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	t.Fatalf("no %s in %s or /usr/lib/postgresql/15/bin", name, c.BinDir)
	return ""
}

// pgDump runs pg_dump -Fc with args (a later -F overrides the format) against db and returns
// its output. The connection comes from the cluster's URL through the environment, so the
// password stays out of argv.
func pgDump(t testing.TB, c *pgtest.Cluster, db string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t, c, "pg_dump"), append([]string{"-Fc"}, args...)...)
	cmd.Env = pgEnv(t, c, db)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump %v: %v: %s", args, err, stderr.Bytes())
	}
	return out
}

// pgRestore runs pg_restore --exit-on-error into db with args.
func pgRestore(t testing.TB, c *pgtest.Cluster, db string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t, c, "pg_restore"), append([]string{"--exit-on-error", "-d", db}, args...)...)
	cmd.Env = pgEnv(t, c, db)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore %v: %v: %s", args, err, out)
	}
}

// pgEnv is the environment of a client program connecting to db as the cluster's user.
func pgEnv(t testing.TB, c *pgtest.Cluster, db string) []string {
	t.Helper()
	u, err := url.Parse(c.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	return append(os.Environ(),
		"PGHOST="+u.Hostname(), "PGPORT="+u.Port(), "PGUSER="+u.User.Username(),
		"PGPASSWORD="+password, "PGDATABASE="+db, "PGSSLMODE=disable")
}

// countRows returns SELECT count(*) of every table with storage (not partitioned parents,
// whose rows are their partitions') outside the system schemas, keyed as Counter keys them.
func countRows(t testing.TB, c *pgtest.Cluster, db string) map[string]int64 {
	t.Helper()
	ctx := t.Context()
	conn, err := c.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Schema, Name string }])
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]int64)
	for _, tb := range tables {
		var n int64
		q := "SELECT count(*) FROM ONLY " + pgx.Identifier{tb.Schema, tb.Name}.Sanitize()
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		want[tb.Schema+"."+tb.Name] = n
	}
	return want
}

// count feeds archive to a new Counter in pieces of the given sizes (cycled) and returns its
// result.
func count(archive []byte, sizes ...int) (map[string]int64, error) {
	c := NewCounter()
	for i := 0; len(archive) > 0; i++ {
		n := len(archive)
		if len(sizes) > 0 {
			n = min(n, sizes[i%len(sizes)])
		}
		c.Write(archive[:n])
		archive = archive[n:]
	}
	return c.Result()
}

// writeFile writes data to a file in a test's temporary directory and returns its path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
