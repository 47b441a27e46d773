package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

func TestCopyColumns(t *testing.T) {
	tests := []struct {
		stmt string
		want []string
	}{
		{"COPY public.t (a, b) FROM stdin;\n", []string{"a", "b"}},
		{"COPY public.t (id) FROM stdin;\n", []string{"id"}},
		{`COPY "Odd Schema"."x ""y""" (id, "B c", "a,b", "p(q)", "x""y", "ünï", "select") FROM stdin;` + "\n",
			[]string{"id", "B c", "a,b", "p(q)", `x"y`, "ünï", "select"}},
		{"COPY public.t  FROM stdin;\n", []string{}}, // a table without columns
		{"COPY Public.T (A, b_2$) FROM stdin;\n", []string{"a", "b_2$"}},
		{"COPY public.t (a,b)FROM stdin;", []string{"a", "b"}},
	}
	for _, tc := range tests {
		got, err := copyColumns(tc.stmt)
		if err != nil {
			t.Errorf("copyColumns(%q) error = %v", tc.stmt, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("copyColumns(%q) mismatch (-want +got):\n%s", tc.stmt, diff)
		}
	}
	for _, stmt := range []string{
		"",
		"INSERT INTO t VALUES (1);",
		"COPY public.t (a, b);",
		`COPY public.t (a, "b) FROM stdin;`,
		"COPY public.t (a, , b) FROM stdin;",
		"COPY public.t (a b) FROM stdin;",
		`COPY public."" (a) FROM stdin;`,
		"COPY (a) FROM stdin;",
	} {
		if got, err := copyColumns(stmt); err == nil {
			t.Errorf("copyColumns(%q) = %q, want an error", stmt, got)
		}
	}
}

// layoutSQL adds tables whose columns pg_dump must quote, a generated and a dropped column, and
// a table without columns to the fixture.
const layoutSQL = fixtureSQL + `
CREATE TABLE "Odd Schema"."Cols" ("A" int, "b c" text, "d,e" text, "f""g" text, "ünï" text, "select" int,
	gen int GENERATED ALWAYS AS ("A" * 2) STORED, dropped int);
ALTER TABLE "Odd Schema"."Cols" DROP COLUMN dropped;
INSERT INTO "Odd Schema"."Cols" SELECT g, 'x', 'y', 'z', 'ü', g FROM generate_series(1, 3) g;
CREATE TABLE no_columns ();
INSERT INTO no_columns DEFAULT VALUES;
INSERT INTO no_columns DEFAULT VALUES;
`

// TestLayoutMatchesServer checks the Layout of a real archive: the tables, row counts and
// columns the server has (without generated columns, as pg_dump copies them), and blocks that
// start at a block header and end where the next block starts.
func TestLayoutMatchesServer(t *testing.T) {
	c, db := newDB(t, layoutSQL)
	wantRows := countRows(t, c, db)
	wantCols := serverColumns(t, c, db)
	for _, mode := range dumpModes {
		t.Run(mode.name, func(t *testing.T) {
			archive := pgDump(t, c, db, mode.args...)
			cnt := NewCounter()
			for b := archive; len(b) > 0; b = b[min(len(b), 999):] {
				cnt.Write(b[:min(len(b), 999)])
			}
			l, err := cnt.Layout()
			if err != nil {
				t.Fatalf("Layout() error = %v", err)
			}
			h, _, err := ReadTOC(bytes.NewReader(archive))
			if err != nil {
				t.Fatal(err)
			}
			if l.Version != h.Version || l.Compression != h.Compression || l.IntSize != 4 {
				t.Errorf("Layout() = version %s, compression %s, int size %d; want %s, %s, 4", l.Version, l.Compression, l.IntSize, h.Version, h.Compression)
			}
			gotRows := map[string]int64{}
			gotCols := map[string][]string{}
			var prevEnd int64
			for _, tb := range l.Tables {
				gotRows[tb.Key()] = tb.Rows
				gotCols[tb.Key()] = tb.Columns
				checkBlock(t, archive, tb, prevEnd)
				prevEnd = tb.End
			}
			if diff := cmp.Diff(wantRows, gotRows); diff != "" {
				t.Errorf("Layout() rows mismatch (-count(*) +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantCols, gotCols); diff != "" {
				t.Errorf("Layout() columns mismatch (-server +got):\n%s", diff)
			}
			js, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			var back Layout
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(l, back); diff != "" {
				t.Errorf("Layout JSON round trip mismatch (-before +after):\n%s", diff)
			}
		})
	}
}

// checkBlock checks that tb is a whole data block of archive that starts at or after prevEnd.
func checkBlock(t *testing.T, archive []byte, tb TableBlock, prevEnd int64) {
	t.Helper()
	zero := []byte{0, 0, 0, 0, 0} // a zero integer: the block's end
	switch {
	case tb.Start < prevEnd || tb.End <= tb.Start || tb.End > int64(len(archive)):
		t.Errorf("%s: block [%d, %d) after %d in %d bytes", tb.Key(), tb.Start, tb.End, prevEnd, len(archive))
	case !bytes.Equal(archive[tb.Start:tb.Start+6], []byte{blkData, 0, byte(tb.DumpID), byte(tb.DumpID >> 8), 0, 0}):
		t.Errorf("%s: block starts % x, want type %d and dump ID %d", tb.Key(), archive[tb.Start:tb.Start+6], blkData, tb.DumpID)
	case !bytes.Equal(archive[tb.End-5:tb.End], zero):
		t.Errorf("%s: block ends % x, want a zero length", tb.Key(), archive[tb.End-5:tb.End])
	case tb.End < int64(len(archive)) && archive[tb.End] != blkData && archive[tb.End] != blkBlobs:
		t.Errorf("%s: byte %d after the block is %d, not a block type", tb.Key(), tb.End, archive[tb.End])
	}
}

// serverColumns returns every table's columns as pg_dump copies them: in attnum order, without
// dropped or generated columns.
func serverColumns(t *testing.T, c *pgtest.Cluster, db string) map[string][]string {
	t.Helper()
	ctx := t.Context()
	conn, err := c.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT n.nspname || '.' || c.relname,
			coalesce(array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attnum > 0), '{}')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string][]string{}
	var key string
	var names []string
	if _, err := pgx.ForEachRow(rows, []any{&key, &names}, func() error {
		cols[key] = names
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(cols["Odd Schema.Cols"]) != 6 || len(cols["public.no_columns"]) != 0 {
		t.Fatalf("server columns not as the fixture made them: %q", cols)
	}
	return cols
}
