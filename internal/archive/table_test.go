package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// copySettings are the settings pg_dump gives its session (setup_connection in pg_dump.c) that
// change the text of values.
const copySettings = `SET DateStyle = ISO; SET IntervalStyle = postgres; SET extra_float_digits = 3`

// serverCopy returns COPY table (columns) TO STDOUT of the server, in pg_dump's settings, with
// the COPY options opts ("" for the text format).
func serverCopy(t testing.TB, conn *pgx.Conn, tb TableBlock, opts string) []byte {
	t.Helper()
	cols := make([]string, len(tb.Columns))
	for i, col := range tb.Columns {
		cols[i] = pgx.Identifier{col}.Sanitize()
	}
	q := "COPY " + pgx.Identifier{tb.Schema, tb.Name}.Sanitize()
	if len(cols) > 0 {
		q += " (" + strings.Join(cols, ", ") + ")"
	}
	q += " TO STDOUT " + opts
	var out bytes.Buffer
	if _, err := conn.PgConn().CopyTo(t.Context(), &out, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out.Bytes()
}

func connect(t testing.TB, c *pgtest.Cluster, db string) *pgx.Conn {
	t.Helper()
	conn, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.WithoutCancel(t.Context())) })
	if _, err := conn.Exec(t.Context(), copySettings); err != nil {
		t.Fatal(err)
	}
	return conn
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

// midSQL is a table whose block is larger than TableReader's reads, so that reading only up
// to a block's end can be seen.
const midSQL = `
CREATE TABLE mid (id bigint PRIMARY KEY, payload text);
INSERT INTO mid SELECT g, md5(g::text) || E'\t' || g FROM generate_series(1, 20000) g;
`

// TestCopyTableMatchesServer reads every table of a real archive, from the archive's start and
// from its block, and compares the rows with the server's COPY TO STDOUT of the same columns.
func TestCopyTableMatchesServer(t *testing.T) {
	c, db := newDB(t, layoutSQL+midSQL)
	conn := connect(t, c, db)
	for _, mode := range dumpModes {
		t.Run(mode.name, func(t *testing.T) {
			archive := pgDump(t, c, db, mode.args...)
			l, err := ListTables(bytes.NewReader(archive))
			if err != nil {
				t.Fatalf("ListTables() error = %v", err)
			}
			if len(l.Tables) != 10 {
				t.Fatalf("ListTables() found %d tables, want 10", len(l.Tables))
			}
			for _, tb := range l.Tables {
				want := serverCopy(t, conn, tb, "")
				r := &countingReader{r: bytes.NewReader(archive)}
				var got bytes.Buffer
				cols, err := CopyTable(&got, r, tb.Schema, tb.Name)
				if err != nil {
					t.Fatalf("CopyTable(%s) error = %v", tb.Key(), err)
				}
				if !bytes.Equal(want, got.Bytes()) {
					t.Errorf("CopyTable(%s) = %q, server's COPY = %q", tb.Key(), abbrevBytes(got.Bytes()), abbrevBytes(want))
				}
				if diff := cmp.Diff(tb.Columns, cols); diff != "" {
					t.Errorf("CopyTable(%s) columns mismatch (-layout +got):\n%s", tb.Key(), diff)
				}
				if r.n > tb.End+tableReadBuf {
					t.Errorf("CopyTable(%s) read %d bytes, the block ends at %d", tb.Key(), r.n, tb.End)
				}

				// The seek case: the archive from the block on.
				br := bytes.NewReader(archive[tb.Start:])
				tr, err := OpenTableBlock(br, l, tb)
				if err != nil {
					t.Fatalf("OpenTableBlock(%s) error = %v", tb.Key(), err)
				}
				got.Reset()
				if _, err := tr.WriteTo(&got); err != nil {
					t.Fatalf("OpenTableBlock(%s).WriteTo() error = %v", tb.Key(), err)
				}
				if !bytes.Equal(want, got.Bytes()) {
					t.Errorf("OpenTableBlock(%s) rows = %q, server's COPY = %q", tb.Key(), abbrevBytes(got.Bytes()), abbrevBytes(want))
				}
				if read := len(archive) - int(tb.Start) - br.Len(); int64(read) != tb.End-tb.Start {
					t.Errorf("OpenTableBlock(%s) read %d bytes, the block has %d", tb.Key(), read, tb.End-tb.Start)
				}
				if diff := cmp.Diff(tb, tr.Table()); diff != "" {
					t.Errorf("OpenTableBlock(%s).Table() mismatch (-layout +got):\n%s", tb.Key(), diff)
				}
			}
		})
	}
}

func abbrevBytes(b []byte) []byte {
	if len(b) > 300 {
		return append(bytes.Clone(b[:300]), "..."...)
	}
	return b
}

// TestOpenTableErrors covers tables the archive has no data for and data it cannot read.
func TestOpenTableErrors(t *testing.T) {
	c, db := newDB(t, fixtureSQL+`CREATE SCHEMA other; CREATE TABLE other.accounts (id int);`)
	archive := pgDump(t, c, db, "-Z0")
	tests := []struct {
		schema, name string
		want         error
		says         []string
	}{
		{"public", "acounts", ErrNoTable, []string{"public.acounts", "close names: public.accounts, other.accounts"}},
		{"", "Accounts", ErrNoTable, []string{"close names: other.accounts, public.accounts"}},
		{"", "accounts", ErrNoTable, []string{"accounts is ambiguous, name its schema: "}},
		{"public", "measurements", ErrNoTable, []string{"public.measurements is there without data", "public.measurements_2023"}},
		{"public", "account_names", ErrNoTable, []string{"close names: public.accounts"}}, // a materialized view
		{"public", "zzz", ErrNoTable, []string{"public.zzz (the archive has data for 8 tables)"}},
		{"odd schema", "Weird \"Table\" ünï", ErrNoTable, []string{`close names: Odd Schema.Weird "Table" ünï`}},
	}
	for _, tc := range tests {
		_, err := OpenTable(bytes.NewReader(archive), tc.schema, tc.name)
		if !errors.Is(err, tc.want) {
			t.Errorf("OpenTable(%q, %q) error = %v, want %v", tc.schema, tc.name, err, tc.want)
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("OpenTable(%q, %q) error = %q, want it to say %q", tc.schema, tc.name, err, s)
			}
		}
	}
	if tr, err := OpenTable(bytes.NewReader(archive), "", "texts"); err != nil || tr.Table().Key() != "public.texts" {
		t.Errorf("OpenTable(\"\", texts) = %v, %v; want public.texts", tr, err)
	}

	inserts := pgDump(t, c, db, "-Z0", "--inserts")
	if _, err := OpenTable(bytes.NewReader(inserts), "public", "texts"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("OpenTable() of INSERT statements error = %v, want ErrUnsupported", err)
	}
	lz4 := shop(newTestArchive(16), false)
	lz4.compression = int(algoLZ4)
	if _, err := OpenTable(bytes.NewReader(lz4.bytes()), "public", "orders"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("OpenTable() of lz4 data error = %v, want ErrUnsupported", err)
	}
}

// TestTableReaderTruncated cuts an archive inside the TOC, before the table's block and inside
// it: every cut is ErrTruncated.
func TestTableReaderTruncated(t *testing.T) {
	for _, name := range fixtureFiles {
		archive := readFixture(t, name)
		l, err := ListTables(bytes.NewReader(archive))
		if err != nil {
			t.Fatal(err)
		}
		var texts TableBlock
		for _, tb := range l.Tables {
			if tb.Key() == "public.texts" {
				texts = tb
			}
		}
		for cut := int64(1); cut < texts.End; cut += 1 + cut/50 {
			_, err := CopyTable(io.Discard, bytes.NewReader(archive[:cut]), "public", "texts")
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("%s cut at %d (block [%d, %d)): CopyTable() error = %v, want ErrTruncated", name, cut, texts.Start, texts.End, err)
			}
			if cut > texts.Start {
				tr, err := OpenTableBlock(bytes.NewReader(archive[texts.Start:cut]), l, texts)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tr.WriteTo(io.Discard); !errors.Is(err, ErrTruncated) {
					t.Fatalf("%s cut at %d: OpenTableBlock().WriteTo() error = %v, want ErrTruncated", name, cut, err)
				}
			}
		}
		// A block that is not the table's.
		other := l.Tables[0]
		tr, err := OpenTableBlock(bytes.NewReader(archive[other.Start:]), l, TableBlock{DumpID: texts.DumpID, Schema: "public", Name: "texts", Start: other.Start, End: other.End})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.WriteTo(io.Discard); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: OpenTableBlock() of another table's block: WriteTo() error = %v, want ErrCorrupt", name, err)
		}
	}
}

// TestTableReaderWriter covers the writer's errors, from uncompressed data and from inside the
// decompressor, and a second WriteTo.
func TestTableReaderWriter(t *testing.T) {
	big := shop(newTestArchive(16), true)
	big.compression = int(algoGzip)
	big.blocks[0].chunks = split(deflate([]byte(strings.Repeat("1\tsome row\n", 20000)+endMarker)), 1000)
	archives := map[string][]byte{"big gzip": big.bytes()}
	for _, name := range fixtureFiles {
		archives[name] = readFixture(t, name)
	}
	for name, archive := range archives {
		errDisk := errors.New("disk full")
		table := "texts"
		if name == "big gzip" {
			table = "orders"
		}
		tr, err := OpenTable(bytes.NewReader(archive), "public", table)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.WriteTo(failingWriter{errDisk}); !errors.Is(err, errDisk) || errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: WriteTo(failing writer) error = %v, want %v and not ErrCorrupt", name, err, errDisk)
		}
		if n := decompressors(); n != 0 {
			t.Errorf("%s: %d decompressor goroutines after WriteTo failed, want 0", name, n)
		}
		if _, err := tr.WriteTo(io.Discard); err == nil {
			t.Errorf("%s: second WriteTo() succeeded", name)
		}
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// TestCopyTableVersions reads a table from the layouts of pg_dump 9.0 to 17, uncompressed and
// gzip-compressed in 3-byte chunks, and from single-byte reads.
func TestCopyTableVersions(t *testing.T) {
	for _, minor := range []byte{12, 13, 14, 15, 16} {
		for _, gzip := range []bool{false, true} {
			a := shop(newTestArchive(minor), gzip)
			if gzip && minor >= 15 {
				a.compression = int(algoGzip)
			} else if gzip {
				a.compression = -1
			}
			archive := a.bytes()
			for _, r := range []io.Reader{bytes.NewReader(archive), io.MultiReader(&oneByteReader{archive})} {
				var got bytes.Buffer
				cols, err := CopyTable(&got, r, "public", "orders")
				if err != nil {
					t.Fatalf("1.%d gzip %t: CopyTable() error = %v", minor, gzip, err)
				}
				if got.String() != shopRows || !slicesEqual(cols, []string{"id", "note"}) {
					t.Errorf("1.%d gzip %t: CopyTable() = %q, %q; want %q, [id note]", minor, gzip, got.String(), cols, shopRows)
				}
			}
			var got bytes.Buffer
			if _, err := CopyTable(&got, bytes.NewReader(archive), "Odd Schema", `x "y"`); err != nil || got.Len() != 0 {
				t.Errorf("1.%d gzip %t: CopyTable() of an empty table = %q, %v", minor, gzip, got.String(), err)
			}
		}
	}
}

type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }
