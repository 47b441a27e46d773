package archive

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	shopRows = "1\tfirst\n2\tsec\\nond\\\\\n3\t\\N\n"
	shopLO   = "a large\nobject\n\n"
)

// shop returns an archive of a table of three rows, an empty table, a sequence and two large
// objects. With gzip, every table and large object is one zlib stream cut into 3-byte chunks.
func shop(a testArchive, gzip bool) testArchive {
	a.entries = []testEntry{
		{id: 1, desc: "ENCODING", tag: "ENCODING"},
		{id: 2, desc: "SCHEMA", tag: "Odd Schema", owner: "alice"},
		{id: 10, desc: "TABLE", ns: "public", tag: "orders", owner: "alice"},
		{id: 11, desc: "TABLE", ns: "Odd Schema", tag: `x "y"`, owner: "bob", deps: []int{2}},
		{id: 20, hasData: true, desc: "TABLE DATA", ns: "public", tag: "orders", owner: "alice",
			copyStmt: "COPY public.orders (id, note) FROM stdin;\n", deps: []int{10}},
		{id: 21, hasData: true, desc: "TABLE DATA", ns: "Odd Schema", tag: `x "y"`, owner: "bob",
			copyStmt: "COPY \"Odd Schema\".\"x \"\"y\"\"\" (id) FROM stdin;\n", deps: []int{11}},
		{id: 30, desc: "SEQUENCE SET", ns: "public", tag: "orders_id_seq", owner: "alice"},
		{id: 40, hasData: true, desc: "BLOBS", tag: "BLOBS"},
	}
	chunks := func(s string) [][]byte {
		if gzip {
			return split(deflate([]byte(s)), 3)
		}
		return split([]byte(s), 4)
	}
	a.blocks = []testBlock{
		{typ: blkData, id: 20, chunks: chunks(shopRows + endMarker)},
		{typ: blkData, id: 21, chunks: chunks(endMarker)},
		{typ: blkBlobs, id: 40, blobs: []testBlob{
			{oid: 16500, chunks: chunks(shopLO)},
			{oid: 16501, chunks: chunks("\n\n\\.\n\n\n")},
		}},
	}
	return a
}

var shopCounts = map[string]int64{"public.orders": 3, `Odd Schema.x "y"`: 0}

func shopEntries(a testArchive) []Entry {
	var out []Entry
	for _, e := range a.entries {
		out = append(out, Entry{DumpID: e.id, Desc: e.desc, Namespace: e.ns, Tag: e.tag, Owner: e.owner, HasData: e.hasData, Deps: e.deps})
	}
	return out
}

// TestVersions reads the layouts of pg_dump 9.0 to 17: archive versions 1.12 to 1.16, with
// the compression as a level (before 1.15) or an algorithm byte.
func TestVersions(t *testing.T) {
	with := func(a testArchive, f func(*testArchive)) testArchive { f(&a); return a }
	tests := []struct {
		name        string
		archive     testArchive
		gzip        bool
		version     string
		compression string
	}{
		{"1.12 uncompressed", newTestArchive(12), false, "1.12", "none"},
		{"1.13 zlib level 6", with(newTestArchive(13), func(a *testArchive) { a.compression = 6 }), true, "1.13", "gzip"},
		{"1.14 uncompressed", newTestArchive(14), false, "1.14", "none"},
		{"1.14 default level", with(newTestArchive(14), func(a *testArchive) { a.compression = -1 }), true, "1.14", "gzip"},
		{"1.15 none", newTestArchive(15), false, "1.15", "none"},
		{"1.15 gzip", with(newTestArchive(15), func(a *testArchive) { a.compression = int(algoGzip) }), true, "1.15", "gzip"},
		{"1.16 none", newTestArchive(16), false, "1.16", "none"},
		{"1.16 gzip", with(newTestArchive(16), func(a *testArchive) { a.compression = int(algoGzip) }), true, "1.16", "gzip"},
		{"1.16 revision", with(newTestArchive(16), func(a *testArchive) { a.vrev = 3 }), false, "1.16-3", "none"},
		{"1.16 8-byte integers", with(newTestArchive(16), func(a *testArchive) { a.intSize, a.offSize = 8, 16 }), false, "1.16", "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := shop(tc.archive, tc.gzip)
			archive := a.bytes()
			h, entries, err := ReadTOC(bytes.NewReader(archive))
			if err != nil {
				t.Fatalf("ReadTOC() error = %v", err)
			}
			wantHeader := Header{Version: tc.version, Compression: tc.compression, Database: "shop",
				ServerVersion: "17.2", DumpVersion: "17.2 (Debian 17.2-1)"}
			if diff := cmp.Diff(wantHeader, h); diff != "" {
				t.Errorf("ReadTOC() header mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(shopEntries(a), entries); diff != "" {
				t.Errorf("ReadTOC() entries mismatch (-want +got):\n%s", diff)
			}
			for _, size := range []int{1, 7, len(archive)} {
				got, err := count(archive, size)
				if err != nil {
					t.Fatalf("Result() after writes of %d error = %v", size, err)
				}
				if diff := cmp.Diff(shopCounts, got); diff != "" {
					t.Errorf("Result() after writes of %d mismatch (-want +got):\n%s", size, diff)
				}
			}
		})
	}
}

// TestUncountable: lz4 and zstd blocks (pg_dump 16 and later) are read past in the TOC but not
// counted.
func TestUncountable(t *testing.T) {
	for _, algo := range []algorithm{algoLZ4, algoZstd} {
		t.Run(algo.String(), func(t *testing.T) {
			a := shop(newTestArchive(16), false)
			a.compression = int(algo)
			h, _, err := ReadTOC(bytes.NewReader(a.bytes()))
			if err != nil || h.Compression != algo.String() {
				t.Errorf("ReadTOC() = %+v, %v; want compression %s", h, err, algo)
			}
			got, err := count(a.bytes())
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "needs uncompressed or gzip data blocks") {
				t.Errorf("Result() = %v, %v; want ErrUnsupported saying counting needs uncompressed or gzip data blocks", got, err)
			}
		})
	}
}

// TestBrokenArchives feeds archives that break the format in one place each.
func TestBrokenArchives(t *testing.T) {
	base := func() testArchive { return shop(newTestArchive(16), false) }
	gz := func() testArchive { a := shop(newTestArchive(16), true); a.compression = int(algoGzip); return a }
	edit := func(a testArchive, f func(*testArchive)) []byte { f(&a); return a.bytes() }
	zlibData := deflate([]byte(shopRows + endMarker))

	tests := []struct {
		name    string
		archive []byte
		want    error
	}{
		{"version 1.11", edit(base(), func(a *testArchive) { a.vmin = 11 }), ErrUnsupported},
		{"version 1.17", edit(base(), func(a *testArchive) { a.vmin = 17 }), ErrUnsupported},
		{"version 2.0", edit(base(), func(a *testArchive) { a.vmaj, a.vmin = 2, 0 }), ErrUnsupported},
		{"directory format", edit(base(), func(a *testArchive) { a.format = 5 }), ErrUnsupported},
		{"integer size 0", edit(base(), func(a *testArchive) { a.intSize = 0 }), ErrUnsupported},
		{"integer size 9", edit(base(), func(a *testArchive) { a.intSize = 9 }), ErrUnsupported},
		{"compression algorithm 4", edit(base(), func(a *testArchive) { a.compression = 4 }), ErrUnsupported},
		{"INSERT statements", edit(base(), func(a *testArchive) { a.entries[4].copyStmt = "" }), ErrUnsupported},
		{"dump ID 0", edit(base(), func(a *testArchive) { a.entries[0].id = 0 }), ErrCorrupt},
		{"negative dump ID", edit(base(), func(a *testArchive) { a.entries[0].id = -4 }), ErrCorrupt},
		{"dump ID twice", edit(base(), func(a *testArchive) { a.entries[1].id = 1 }), ErrCorrupt},
		{"block for no entry", edit(base(), func(a *testArchive) { a.blocks[0].id = 99 }), ErrCorrupt},
		{"block twice", edit(base(), func(a *testArchive) { a.blocks[1].id = 20 }), ErrCorrupt},
		{"block type 2", edit(base(), func(a *testArchive) { a.blocks[0].typ = 2 }), ErrCorrupt},
		{"large objects for a table", edit(base(), func(a *testArchive) { a.blocks[2].id = 20; a.blocks = a.blocks[1:] }), ErrCorrupt},
		{"partial last row", edit(base(), func(a *testArchive) { a.blocks[0].chunks = [][]byte{[]byte("1\tx\n2\ty")} }), ErrCorrupt},
		{"gzip stream cut short", edit(gz(), func(a *testArchive) { a.blocks[0].chunks = [][]byte{zlibData[:len(zlibData)-3]} }), ErrCorrupt},
		{"gzip stream then garbage", edit(gz(), func(a *testArchive) { a.blocks[0].chunks = [][]byte{zlibData, []byte("x")} }), ErrCorrupt},
		{"gzip stream damaged", edit(gz(), func(a *testArchive) {
			bad := bytes.Clone(zlibData)
			bad[len(bad)-1] ^= 0xff // the checksum
			a.blocks[0].chunks = [][]byte{bad}
		}), ErrCorrupt},
		{"uncompressed data in a gzip archive", edit(gz(), func(a *testArchive) { a.blocks[0].chunks = [][]byte{[]byte(shopRows)} }), ErrCorrupt},
		{"no block for an entry with data", edit(base(), func(a *testArchive) { a.blocks = a.blocks[:2] }), ErrTruncated},
		{"no entries with data", edit(base(), func(a *testArchive) { a.entries = a.entries[:3]; a.blocks = nil }), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := count(tc.archive)
			if tc.want == nil {
				if err != nil {
					t.Errorf("Result() error = %v, want none", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Result() = %v, %v; want error %v", got, err, tc.want)
			}
		})
	}
}

// TestBrokenValues covers values no test archive builder writes: absurd lengths and flags.
func TestBrokenValues(t *testing.T) {
	a := newTestArchive(16)
	a.entries = []testEntry{{id: 1, desc: "ENCODING", tag: "ENCODING"}}
	toc := a.bytes()
	header := toc[:bytes.Index(toc, []byte("17.2 (Debian 17.2-1)"))+len("17.2 (Debian 17.2-1)")]
	w := &testWriter{intSize: 4}
	num := func(v int) []byte { w.buf.Reset(); w.int(v); return bytes.Clone(w.buf.Bytes()) }
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	offsetAt := len(toc) - 1 - 8 // the flag byte of the only entry's data offset

	tests := []struct {
		name    string
		archive []byte
		want    error
	}{
		{"negative TOC count", join(header, num(-1)), ErrCorrupt},
		{"string of 100 MiB", join(header, num(1), num(1), num(0), num(100<<20), []byte("abc")), ErrCorrupt},
		{"offset flag 7", func() []byte { b := bytes.Clone(toc); b[offsetAt] = 7; return b }(), ErrCorrupt},
		{"negative chunk length", join(func() []byte {
			b := newTestArchive(16)
			b.entries = []testEntry{{id: 5, hasData: true, desc: "TABLE DATA", ns: "public", tag: "t", copyStmt: "COPY"}}
			return b.bytes()
		}(), []byte{blkData}, num(5), num(-2)), ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := count(tc.archive); !errors.Is(err, tc.want) {
				t.Errorf("Result() = %v, %v; want error %v", got, err, tc.want)
			}
			if tc.name != "negative chunk length" {
				if _, _, err := ReadTOC(bytes.NewReader(tc.archive)); !errors.Is(err, tc.want) {
					t.Errorf("ReadTOC() error = %v, want %v", err, tc.want)
				}
			}
		})
	}
}

// TestCopyRows covers how the end of a table's COPY text turns newlines into rows.
func TestCopyRows(t *testing.T) {
	tests := []struct {
		text string
		rows int64
		ok   bool
	}{
		{"", 0, true},
		{endMarker, 0, true},
		{"a\n" + endMarker, 1, true},
		{"\n\n" + endMarker, 2, true}, // two rows of one empty string
		{"a\tb\\\\.\n" + endMarker, 1, true},
		{"a\n", 1, true},        // no marker: every line a row
		{"a\\.\n\n\n", 3, true}, // not the marker: it does not start a line
		{"a", 0, false},
		{"a\n" + endMarker + "b", 0, false},
	}
	for _, tc := range tests {
		for _, size := range []int{1, 2, 100} {
			var tl tail
			var lines int64
			for _, piece := range split([]byte(tc.text), size) {
				tl.add(piece)
				lines += int64(bytes.Count(piece, []byte{'\n'}))
			}
			if rows, ok := copyRows(lines, &tl); rows != tc.rows || ok != tc.ok {
				t.Errorf("copyRows(%q in pieces of %d) = %d, %v; want %d, %v", tc.text, size, rows, ok, tc.rows, tc.ok)
			}
		}
	}
}
