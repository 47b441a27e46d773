package copyfmt

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// A fuzz worker runs only the fuzz target, which needs no server.
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	pgtest.Main(m)
}

// awkwardSQL makes tables whose values and names exercise every rule of the conversions. The
// database's time zone is one with a 45-minute offset, which pg_dump's session and the test's
// both use.
const awkwardSQL = `
CREATE SCHEMA "Odd ""Schema""";
CREATE TABLE "Odd ""Schema"""."Awkward, Table" (
	id int, "Text Col" text, "a,b" text, "say ""hi""" text, "UPPER" text, "tab	col" text, "new
line" text, "\." text, "ünï 🐘" text,
	b bytea, j jsonb, arr text[], n numeric, ts timestamptz, d date, iv interval, f float8, u uuid,
	ok boolean, dropped int
);
ALTER TABLE "Odd ""Schema"""."Awkward, Table" DROP COLUMN dropped;
INSERT INTO "Odd ""Schema"""."Awkward, Table" VALUES
	(1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(2, '', '', '', '', '', '', '', '', '', '{}', '{}', 0, 'epoch', 'epoch', '0', 0, '00000000-0000-0000-0000-000000000000', false),
	(3, '"quoted"', 'a,b', 'say "hi"', E'tab\there', E'cr\rhere', E'lf\nhere', E'crlf\r\n', ' ', E'\\x000a0d09225c2c',
		'{"a": "b,\"c\"", "n": [1, 2.5, null], "t": "\t\n"}', ARRAY['a,b', NULL, 'c"d', E'e\\f', '', 'NULL'],
		-123456789.000000001, '2024-02-29 12:34:56.789+05:30', '0001-01-01 BC', '1 year 2 mons -3 days 04:05:06.7', 1e-300, gen_random_uuid(), true),
	(4, E'\\', E'\\\\', E'\\.', '\.', '\N', E'\\N', 'NULL', '""', E'\\x', '"str"', '{{1,2},{3,4}}', 'NaN', 'infinity', 'infinity', '-178000000 years', 'NaN', NULL, NULL),
	(5, 'ünïcødé 日本語', '🐘🎉', E'mixed \\ "q" , \t \r\n end', E'\x01\x02\x7f', ',', '"', E'\n', E'\r', E'\\x80ff',
		'[1, "two", {"3": [4]}]', '{"{\"a\"}"}', '1e-30', '-infinity', '-infinity', '-1 days', '-0', NULL, true),
	(6, repeat(E'long \t"value",\n', 20000), repeat('x', 100000), NULL, NULL, NULL, NULL, NULL, NULL, decode(repeat('ff00', 50000), 'hex'),
		NULL, NULL, 1e100, NULL, NULL, NULL, 1.7976931348623157e308, NULL, NULL);
CREATE TABLE single (v text);
INSERT INTO single VALUES ('\.'), (''), (NULL), ('x'), ('\.x'), (' '), (E'\\.'), ('"');
CREATE TABLE "\." ("\." text);
INSERT INTO "\." VALUES ('a'), ('\.');
CREATE TABLE no_columns ();
INSERT INTO no_columns DEFAULT VALUES;
INSERT INTO no_columns DEFAULT VALUES;
CREATE TABLE many (id bigint, name text, at timestamptz, amount numeric);
INSERT INTO many SELECT g, 'name ' || g || CASE WHEN g % 7 = 0 THEN ', "seven"' ELSE '' END,
	timestamptz '2024-01-01' + g * interval '17 minutes', g / 7.0 FROM generate_series(1, 20000) g;
`

// dump returns pg_dump -Fc -Z0 of db, as pgsnap takes it.
func dump(t *testing.T, c *pgtest.Cluster, db string) []byte {
	t.Helper()
	u, err := url.Parse(c.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, "pg_dump"), "-Fc", "-Z0")
	// The session's settings must be the database's, as the test's connection has them.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PGTZ=") || strings.HasPrefix(kv, "PGDATESTYLE=") || strings.HasPrefix(kv, "PGOPTIONS=")
	})
	cmd.Env = append(env,
		"PGHOST="+u.Hostname(), "PGPORT="+u.Port(), "PGUSER="+u.User.Username(),
		"PGPASSWORD="+password, "PGDATABASE="+db, "PGSSLMODE=disable")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump: %v: %s", err, stderr.Bytes())
	}
	return out
}

// serverCopy returns the server's COPY of a table to STDOUT with the given options.
func serverCopy(t *testing.T, conn *pgx.Conn, tb archive.TableBlock, opts string) []byte {
	t.Helper()
	var out bytes.Buffer
	q := "COPY " + pgx.Identifier{tb.Schema, tb.Name}.Sanitize() + " TO STDOUT " + opts
	if _, err := conn.PgConn().CopyTo(t.Context(), &out, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out.Bytes()
}

// TestMatchesServer exports every table of a real archive in each format and compares the
// result with what the server itself writes for the table.
func TestMatchesServer(t *testing.T) {
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" SET TimeZone = 'Asia/Kathmandu'"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(t.Context(), db, awkwardSQL); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	// What pg_dump sets in its session (setup_connection in pg_dump.c).
	if _, err := conn.Exec(t.Context(), "SET DateStyle = ISO; SET IntervalStyle = postgres; SET extra_float_digits = 3"); err != nil {
		t.Fatal(err)
	}
	a := dump(t, c, db)
	l, err := archive.ListTables(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Tables) != 5 {
		t.Fatalf("archive has %d tables, want 5", len(l.Tables))
	}
	for _, tb := range l.Tables {
		t.Run(tb.Key(), func(t *testing.T) {
			var rows bytes.Buffer
			if _, err := archive.CopyTable(&rows, bytes.NewReader(a), tb.Schema, tb.Name); err != nil {
				t.Fatal(err)
			}
			wantCSV := serverCopy(t, conn, tb, "WITH (FORMAT csv, HEADER true)")
			for _, piece := range []int{0, 1, 7, 4096} {
				got := export(t, CSV, tb, rows.Bytes(), piece)
				compareCSV(t, wantCSV, got)
			}
			// Straight from the archive: the reader's 64 KiB writes.
			tr, err := archive.OpenTable(bytes.NewReader(a), tb.Schema, tb.Name)
			if err != nil {
				t.Fatal(err)
			}
			var direct bytes.Buffer
			w, err := NewWriter(&direct, CSV, tr.Columns())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.WriteTo(w); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			compareCSV(t, wantCSV, direct.Bytes())
			if w.Rows() != tb.Rows {
				t.Errorf("Writer.Rows() = %d, the table has %d", w.Rows(), tb.Rows)
			}

			if want, got := serverCopy(t, conn, tb, ""), export(t, Text, tb, rows.Bytes(), 5); !bytes.Equal(want, got) {
				t.Errorf("text export differs from COPY TO STDOUT:\n got %q\nwant %q", abbrev(got), abbrev(want))
			}
			compareJSONL(t, conn, tb, export(t, JSONL, tb, rows.Bytes(), 3))
		})
	}
}

// export converts rows in pieces of the given size (0: whole).
func export(t *testing.T, f Format, tb archive.TableBlock, rows []byte, piece int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, f, tb.Columns)
	if err != nil {
		t.Fatal(err)
	}
	for b := rows; len(b) > 0; {
		n := len(b)
		if piece > 0 {
			n = min(n, piece)
		}
		if _, err := w.Write(b[:n]); err != nil {
			t.Fatalf("%s: Write() error = %v", f, err)
		}
		b = b[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("%s: Close() error = %v", f, err)
	}
	return out.Bytes()
}

// compareCSV compares an export with the server's CSV: the header line exactly, the records as
// sorted sets, then the whole output byte for byte (the rows come in the same order).
func compareCSV(t *testing.T, want, got []byte) {
	t.Helper()
	w, g := csvRecords(want), csvRecords(got)
	if len(w) == 0 || len(g) == 0 || w[0] != g[0] {
		t.Fatalf("CSV header = %q, server's = %q", first(g), first(w))
	}
	sw, sg := slices.Sorted(slices.Values(w[1:])), slices.Sorted(slices.Values(g[1:]))
	if diff := cmp.Diff(sw, sg); diff != "" {
		t.Fatalf("CSV records differ from the server's (-server +export):\n%s", abbrev([]byte(diff)))
	}
	if !bytes.Equal(want, got) {
		t.Errorf("CSV records are the server's but not in its order")
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return "(nothing)"
	}
	return s[0]
}

// csvRecords splits CSV into its records, each with its newline: a newline inside quotes is
// part of a value.
func csvRecords(b []byte) []string {
	var recs []string
	quoted, start := false, 0
	for i, c := range b {
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\n' && !quoted:
			recs = append(recs, string(b[start:i+1]))
			start = i + 1
		}
	}
	if start < len(b) {
		recs = append(recs, string(b[start:]))
	}
	return recs
}

// compareJSONL compares a JSON lines export with the table's values as the server gives them
// in text (NULL as null), in physical order as COPY reads them, and its keys with the columns.
func compareJSONL(t *testing.T, conn *pgx.Conn, tb archive.TableBlock, got []byte) {
	t.Helper()
	// The simple protocol returns values in text, from the types' output functions, as COPY
	// writes them.
	cols := "''"
	if len(tb.Columns) > 0 {
		var names []string
		for _, col := range tb.Columns {
			names = append(names, pgx.Identifier{col}.Sanitize())
		}
		cols = strings.Join(names, ", ")
	}
	q := "SELECT " + cols + " FROM " + pgx.Identifier{tb.Schema, tb.Name}.Sanitize() + " ORDER BY ctid"
	rows, err := conn.Query(t.Context(), q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	var want [][]*string
	for rows.Next() {
		var vals []*string
		for i, raw := range rows.RawValues() {
			if len(tb.Columns) == 0 && i == 0 {
				break // the '' selected for a table without columns
			}
			if raw == nil {
				vals = append(vals, nil)
			} else {
				vals = append(vals, new(string(raw)))
			}
		}
		want = append(want, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(got, []byte("\n")), []byte("\n"))
	if len(lines) != len(want) {
		t.Fatalf("JSONL has %d lines, the table %d rows", len(lines), len(want))
	}
	for i, line := range lines {
		keys, values := decodeObject(t, line)
		if !slices.Equal(keys, tb.Columns) && !(len(keys) == 0 && len(tb.Columns) == 0) {
			t.Fatalf("JSONL line %d keys = %q, want the columns %q", i+1, keys, tb.Columns)
		}
		if diff := cmp.Diff(want[i], values, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("JSONL line %d values differ (-server +export):\n%s", i+1, abbrev([]byte(diff)))
		}
	}
}

// decodeObject decodes a JSON object of string or null values, keeping the order of its keys.
func decodeObject(t *testing.T, line []byte) (keys []string, values []*string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("JSONL line %q: not an object: %v", abbrev(line), err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v *string
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys, values = append(keys, k.(string)), append(values, v)
	}
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("JSONL line %q: more than one value", abbrev(line))
	}
	return keys, values
}

func abbrev(b []byte) []byte {
	if len(b) > 2000 {
		return append(bytes.Clone(b[:2000]), "..."...)
	}
	return b
}
