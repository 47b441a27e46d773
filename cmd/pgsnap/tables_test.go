package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/internal/pgtest"
	"github.com/pgsnap/pgsnap/internal/s3test"
)

// awkwardTableSQL is a table whose names and values are easy to get wrong in CSV: NULLs and
// empty strings, quotes, commas, line breaks (LF and CRLF), tabs and backslashes, non-ASCII,
// bytea, jsonb, arrays, in a schema and table whose names need quoting, with columns whose
// names need quoting in the header.
const awkwardTableSQL = `
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Weird ""T"" ü" (id int, "na,me" text, "Quote""d" text, "ünï" text,
  raw bytea, doc jsonb, tags text[], amount numeric, at timestamptz);
INSERT INTO "Odd Schema"."Weird ""T"" ü"
SELECT g,
  CASE g % 6 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN E'line\nbreak, "q" ' || g
    WHEN 3 THEN E'crlf\r\nend\\back\ttab' WHEN 4 THEN 'ünï 漢字 🐘 ' || g ELSE ' lead, trail ' END,
  CASE WHEN g % 5 = 0 THEN NULL ELSE 'it''s "quoted", x' END,
  repeat('é', g % 4),
  decode(md5(g::text), 'hex') || '\x00ff0a0d'::bytea,
  jsonb_build_object('g', g, 's', E'a "b",\nc', 'u', '🐘'),
  ARRAY['a,b', 'c"d', NULL, E'e\nf', ''],
  g * 1.25, timestamptz '2026-03-29 01:30:00+01' + g * interval '17 minutes'
FROM generate_series(1, 500) g;
CREATE TABLE public.plain (id int);
INSERT INTO public.plain SELECT generate_series(1, 7);`

const awkwardTable = `"Odd Schema"."Weird ""T"" ü"`

// The acceptance: export --format csv of a table with awkward values matches COPY ...
// TO STDOUT WITH (FORMAT csv, HEADER true): the header line exactly, the records as sorted sets
// (a record with a line break in a value spans lines). Also from an encrypted snapshot given
// the identity (and refused without it), as COPY text and JSON lines, --list-tables, and an
// unknown table (exit 2, close names).
func TestExportMatchesCopy(t *testing.T) {
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, awkwardTableSQL); err != nil {
		t.Fatal(err)
	}
	wantCSV := copyTo(t, c, db, "COPY "+awkwardTable+" TO STDOUT WITH (FORMAT csv, HEADER true)")
	wantText := copyTo(t, c, db, "COPY "+awkwardTable+" TO STDOUT")
	if records := csvRecords(wantCSV); len(records) != 501 || strings.Count(wantCSV, "\n") <= 501 {
		t.Fatalf("COPY's CSV has %d records in %d lines: want 501 records, some spanning lines", len(records), strings.Count(wantCSV, "\n"))
	}
	recipient, identity := ageKeyFile(t)
	plain := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": filepath.Join(t.TempDir(), "plain")}
	encrypted := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": filepath.Join(t.TempDir(), "enc"), "SNAPSHOT_AGE_RECIPIENTS": recipient}
	for _, env := range []map[string]string{plain, encrypted} {
		if r := runPgsnap(t, env, "snapshot"); r.code != 0 {
			t.Fatalf("snapshot: exit %d", r.code)
		}
	}
	readEnc := maps.Clone(encrypted)
	delete(readEnc, "DATABASE_URL")
	readEnc["SNAPSHOT_AGE_IDENTITY_FILE"] = identity
	for name, env := range map[string]map[string]string{"plain": plain, "encrypted": readEnc} {
		r := runPgsnapQuiet(t, env, "export", "latest", "--table", awkwardTable)
		if r.code != 0 {
			t.Fatalf("%s: export: exit %d: %s", name, r.code, r.stderr)
		}
		compareCSV(t, name, r.stdout, wantCSV)
		if !strings.Contains(r.stderr, "verified=true") {
			t.Errorf("%s: export did not check the stored bytes: %s", name, r.stderr)
		}
	}
	// Without the identity the encrypted snapshot is refused, saying what is missing.
	noID := maps.Clone(readEnc)
	delete(noID, "SNAPSHOT_AGE_IDENTITY_FILE")
	if r := runPgsnapQuiet(t, noID, "export", "latest", "--table", awkwardTable); r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "SNAPSHOT_AGE_IDENTITY_FILE") {
		t.Errorf("export of an encrypted snapshot without identity: exit %d, stderr %q; want 1 naming SNAPSHOT_AGE_IDENTITY_FILE", r.code, r.stderr)
	}

	r := runPgsnapQuiet(t, plain, "export", "latest", "--table", awkwardTable, "--format", "text")
	if got, want := sortedLines(r.stdout), sortedLines(wantText); r.code != 0 || !slices.Equal(got, want) {
		t.Errorf("export --format text: exit %d, %d lines; want COPY's %d text lines", r.code, len(got), len(want))
	}
	r = runPgsnapQuiet(t, plain, "export", "latest", "--table", awkwardTable, "--format", "jsonl")
	checkJSONL(t, r, 500)

	r = runPgsnapQuiet(t, plain, "export", "latest", "--list-tables")
	if r.code != 0 || !tableLine(r.stdout, awkwardTable, "500") || !tableLine(r.stdout, "public.plain", "7") {
		t.Errorf("export --list-tables: exit %d, stdout %q; want both tables with their rows", r.code, r.stdout)
	}
	r = runPgsnapQuiet(t, plain, "export", "latest", "--table", `"Odd Schema"."Weird T"`)
	if r.code != 2 || !strings.Contains(r.stderr, `close names: Odd Schema.Weird "T" ü`) {
		t.Errorf("export of an unknown table: exit %d, stderr %q; want 2 naming %s", r.code, r.stderr, awkwardTable)
	}
	if r := runPgsnapQuiet(t, plain, "export", "latest", "--table", "plain", "--format", "xml"); r.code != 2 {
		t.Errorf("export --format xml: exit %d, want 2", r.code)
	}
}

// export reads a snapshot kept in S3 alone.
func TestExportFromS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, awkwardTableSQL); err != nil {
		t.Fatal(err)
	}
	env := s3Env(srv, bucket, "export")
	env["DATABASE_URL"] = c.URL(db)
	if r := runPgsnap(t, env, "snapshot"); r.code != 0 {
		t.Fatalf("snapshot to S3: exit %d", r.code)
	}
	read := s3Env(srv, bucket, "export")
	r := runPgsnapQuiet(t, read, "export", "latest", "--table", awkwardTable)
	if r.code != 0 {
		t.Fatalf("export from S3: exit %d: %s", r.code, r.stderr)
	}
	compareCSV(t, "s3", r.stdout, copyTo(t, c, db, "COPY "+awkwardTable+" TO STDOUT WITH (FORMAT csv, HEADER true)"))
	if keys := bucketKeys(t, srv, bucket); len(keys) != 2 {
		t.Errorf("bucket after export: %v, want the data object and the manifest (no lease left)", keys)
	}
}

// compareCSV compares an export with COPY's CSV: the header byte for byte, then the records as
// sorted sets.
func compareCSV(t *testing.T, what, got, want string) {
	t.Helper()
	g, w := csvRecords(got), csvRecords(want)
	if len(g) == 0 || g[0] != w[0] {
		t.Fatalf("%s: header %q, want %q", what, strings.Join(g[:min(len(g), 1)], ""), w[0])
	}
	g, w = g[1:], w[1:]
	slices.Sort(g)
	slices.Sort(w)
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s: records differ from COPY's (-COPY +export):\n%.2000s", what, diff)
	}
}

// csvRecords splits CSV into its records, each with its line end: a line break inside double
// quotes belongs to the record.
func csvRecords(s string) []string {
	var recs []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\n':
			if !quoted {
				recs = append(recs, s[start:i+1])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		recs = append(recs, s[start:])
	}
	return recs
}

func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(lines)
	return lines
}

// checkJSONL checks export --format jsonl: one object per row, keys the columns in order,
// NULL as null, the rest strings.
func checkJSONL(t *testing.T, r result, rows int) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("export --format jsonl: exit %d", r.code)
	}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var row map[string]*string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("jsonl line %d: %v: %s", n+1, err, sc.Text())
		}
		if !strings.HasPrefix(sc.Text(), `{"id":"`) || len(row) != 9 {
			t.Fatalf("jsonl line %d: %s; want the 9 columns, id first", n+1, sc.Text())
		}
		id := *row["id"]
		if g, _ := strconv.Atoi(id); (g%5 == 0) != (row["Quote\"d"] == nil) {
			t.Errorf("jsonl row %s: Quote\"d = %v; NULL must be null, the rest strings", id, row["Quote\"d"])
		}
		if id == "2" && *row["na,me"] != "line\nbreak, \"q\" 2" {
			t.Errorf("jsonl row 2: na,me = %q", *row["na,me"])
		}
		n++
	}
	if n != rows {
		t.Errorf("export --format jsonl: %d lines, want %d", n, rows)
	}
}

// tableLine reports whether some line of s is table, blanks, then rows.
func tableLine(s, table, rows string) bool {
	for _, line := range strings.Split(s, "\n") {
		if rest, ok := strings.CutPrefix(line, table); ok && strings.TrimSpace(rest) == rows && rest != rows {
			return true
		}
	}
	return false
}

// copyTo runs a COPY ... TO STDOUT in db.
func copyTo(t *testing.T, c *pgtest.Cluster, db, sql string) string {
	t.Helper()
	conn, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var b bytes.Buffer
	if _, err := conn.PgConn().CopyTo(t.Context(), &b, sql); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// ageKeyFile makes an age key pair: the public key and a 0600 identity file.
func ageKeyFile(t *testing.T) (recipient, identityFile string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identityFile = filepath.Join(t.TempDir(), "age.key")
	if err := os.WriteFile(identityFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String(), identityFile
}
