package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// offsetsSQL is the fixture with a table of many rows: tables of every shape, two large
// objects and a partitioned table.
const offsetsSQL = fixtureSQL + bigSQL

// record feeds archive to a new Counter in writes of the given sizes and returns its Offsets.
func record(t testing.TB, archive []byte, sizes ...int) *Offsets {
	t.Helper()
	c := NewCounter()
	for i := 0; len(archive) > 0; i++ {
		n := len(archive)
		if len(sizes) > 0 {
			n = min(n, sizes[i%len(sizes)])
		}
		c.Write(archive[:n])
		archive = archive[n:]
	}
	x, err := c.Offsets()
	if err != nil {
		t.Fatalf("Offsets() error = %v", err)
	}
	return x
}

// patchFile writes archive to a file, patches it with x through the *os.File and returns the
// file's path and bytes.
func patchFile(t testing.TB, archive []byte, x *Offsets) (string, []byte) {
	t.Helper()
	path := writeFile(t, "patched.dump", archive)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Patch(f); err != nil {
		f.Close()
		t.Fatalf("Patch() error = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

// creationTime returns the bytes of an archive's header that hold its creation time, the only
// bytes in which two dumps of an unchanged database differ.
func creationTime(archive []byte) (start, end int) {
	intSize := int(archive[8])
	start = len(magic) + 6 // version (3 bytes), intSize, offSize, format
	if v := (int(archive[5])*256+int(archive[6]))*256 + int(archive[7]); v >= vers1_15 {
		start++ // compression algorithm byte
	} else {
		start += 1 + intSize // compression level integer
	}
	return start, start + creationInts*(1+intSize)
}

// dataEntries returns the number of TOC entries of an archive that have data.
func dataEntries(t testing.TB, archive []byte) int {
	t.Helper()
	_, entries, err := ReadTOC(bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("ReadTOC() error = %v", err)
	}
	n := 0
	for _, e := range entries {
		if e.HasData {
			n++
		}
	}
	return n
}

// TestPatchMatchesPgDumpFile compares a piped archive, patched, with the archive pg_dump writes
// to a file of the same database, in which pg_dump filled in the offsets itself: apart from the
// creation time they must be byte for byte equal.
func TestPatchMatchesPgDumpFile(t *testing.T) {
	c, db := newDB(t, offsetsSQL)
	piped := pgDump(t, c, db, "-Z0")
	file := filepath.Join(t.TempDir(), "file.dump")
	pgDump(t, c, db, "-Z0", "-f", file)
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(piped) != len(want) {
		t.Fatalf("piped archive has %d bytes, pg_dump -f wrote %d", len(piped), len(want))
	}
	start, end := creationTime(want)
	mask := func(b []byte) []byte {
		b = bytes.Clone(b)
		clear(b[start:end])
		return b
	}
	if bytes.Equal(mask(piped), mask(want)) {
		t.Fatal("the piped archive already equals pg_dump -f's: nothing for the test to patch")
	}
	for _, sizes := range [][]int{nil, {1 << 16}, {1, 3, 7, 4093}} {
		t.Run(fmt.Sprint("writes of ", sizes), func(t *testing.T) {
			x := record(t, piped, sizes...)
			if n := dataEntries(t, piped); x.Len() != n || n < 9 {
				t.Errorf("Offsets.Len() = %d, the TOC has %d entries with data (want at least 9)", x.Len(), n)
			}
			_, got := patchFile(t, piped, x)
			if !bytes.Equal(mask(got), mask(want)) {
				t.Errorf("patched archive differs from pg_dump -f's at %d bytes, first at byte %d", diffCount(mask(got), mask(want)), firstDiff(mask(got), mask(want)))
			}
		})
	}
}

func diffCount(a, b []byte) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n + max(len(a), len(b)) - min(len(a), len(b))
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestPatchedRestore restores a patched archive with pg_restore -j 2 and the unpatched one with
// pg_restore -j 2 into fresh databases: both must hold what the source holds, and pg_restore
// --list must show the same entries for both files.
func TestPatchedRestore(t *testing.T) {
	c, db := newDB(t, offsetsSQL)
	archive := pgDump(t, c, db, "-Z0")
	plain := writeFile(t, "plain.dump", archive)
	patched, _ := patchFile(t, archive, record(t, archive, 1<<16))

	listPlain, listPatched := pgRestoreList(t, c, plain), pgRestoreList(t, c, patched)
	if len(listPlain.entries) < 20 {
		t.Fatalf("pg_restore --list of the unpatched archive shows %d entries, want at least 20", len(listPlain.entries))
	}
	if diff := cmp.Diff(listPlain, listPatched, cmp.AllowUnexported(restoreList{})); diff != "" {
		t.Errorf("pg_restore --list differs (-unpatched +patched):\n%s", diff)
	}

	source := c.FingerprintDB(t, db)
	if _, ok := source[`"public"."big"`]; !ok || len(source) < 12 {
		t.Fatalf("source fingerprint lacks tables: %v", source)
	}
	for _, file := range []string{plain, patched} {
		target := c.CreateDB(t)
		pgRestore(t, c, target, "-j", "2", file)
		if diff := cmp.Diff(source, c.FingerprintDB(t, target)); diff != "" {
			t.Errorf("pg_restore -j 2 of %s differs from the source (-source +restored):\n%s", filepath.Base(file), diff)
		}
	}
}

// TestOffsetsVersions patches the archive layouts of pg_dump 12 to 17 and other integer and
// offset sizes, which the installed pg_dump cannot write, and reads the patched TOC back: every
// entry with data must point at its block, flagged K_OFFSET_POS_SET.
func TestOffsetsVersions(t *testing.T) {
	for _, minor := range []byte{12, 13, 14, 15, 16} {
		for _, sizes := range [][2]byte{{4, 8}, {8, 8}, {4, 4}, {2, 16}} {
			t.Run(fmt.Sprintf("1.%d int %d off %d", minor, sizes[0], sizes[1]), func(t *testing.T) {
				a := shop(newTestArchive(minor), false)
				a.intSize, a.offSize = sizes[0], sizes[1]
				want := 3 // two tables and the large objects
				if minor >= 16 {
					// pg_dump 17 writes large objects in batches, a BLOBS entry each.
					a.entries = append(a.entries, testEntry{id: 41, hasData: true, desc: "BLOBS", tag: "LARGE OBJECTS 16502..16502"})
					a.blocks = append(a.blocks, testBlock{typ: blkBlobs, id: 41, blobs: []testBlob{{oid: 16502, chunks: [][]byte{[]byte("x")}}}})
					want++
				}
				archive := a.bytes()
				x := record(t, archive, 3)
				if x.Len() != want {
					t.Fatalf("Offsets.Len() = %d, want %d", x.Len(), want)
				}
				f := &memFile{b: bytes.Clone(archive)}
				if err := x.Patch(f); err != nil {
					t.Fatalf("Patch() error = %v", err)
				}
				checkPatched(t, archive, f.b)
			})
		}
	}
}

// checkPatched reads a patched archive's TOC and checks its offsets against its blocks: every
// entry whose block the archive holds, and whose flag did not say it has no data, must be
// flagged K_OFFSET_POS_SET with the position of its block; every other byte must be as it was.
func checkPatched(t *testing.T, orig, patched []byte) {
	t.Helper()
	po, pp := parseAll(t, orig), parseAll(t, patched)
	changed := 0
	for i, e := range pp.entries {
		o := po.entries[i]
		wantFlag, wantValue := o.offFlag, o.offValue
		if o.seen && o.offFlag != offsetNoData {
			wantFlag, wantValue = offsetSet, o.start
			changed += 1 + pp.offSize
		}
		switch {
		case e.offFlag != wantFlag || e.offValue != wantValue:
			t.Errorf("entry %d: offset flag %d, offset %d; want flag %d, offset %d", e.DumpID, e.offFlag, e.offValue, wantFlag, wantValue)
		case e.offFlag == offsetSet && e.seen && patched[e.offValue] != e.blockType:
			t.Errorf("entry %d: offset %d points at byte %d, not its block type %d", e.DumpID, e.offValue, patched[e.offValue], e.blockType)
		}
	}
	if n := diffCount(orig, patched); n > changed {
		t.Errorf("Patch changed %d bytes, more than the %d of the offset fields", n, changed)
	}
}

// parseAll parses a whole archive that must parse.
func parseAll(t *testing.T, archive []byte) *parser {
	t.Helper()
	p := newParser(nopSink{}, false)
	if err := p.feed(archive); err != nil {
		t.Fatalf("archive does not parse: %v", err)
	}
	if err := p.missingData(); err != nil || p.st != stBlockType {
		t.Fatalf("archive ends inside %s: %v", p.where(), err)
	}
	return p
}

// nopSink is a blockSink that takes nothing.
type nopSink struct{}

func (nopSink) start(*tocEntry) error { return nil }
func (nopSink) data([]byte) error     { return nil }
func (nopSink) end() error            { return nil }

// memFile is an in-memory io.WriterAt and io.ReaderAt.
type memFile struct{ b []byte }

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(f.b)) {
		return 0, errors.New("memFile: write out of range")
	}
	return copy(f.b[off:], p), nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.b)) {
		return 0, io.EOF
	}
	n := copy(p, f.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// writeOnly hides a memFile's ReadAt, so Patch cannot check what it patches.
type writeOnly struct{ f *memFile }

func (w writeOnly) WriteAt(p []byte, off int64) (int, error) { return w.f.WriteAt(p, off) }

// TestPatchChecks covers what Patch refuses and what it does twice.
func TestPatchChecks(t *testing.T) {
	archive := shop(newTestArchive(16), false).bytes()
	x := record(t, archive)

	t.Run("twice", func(t *testing.T) {
		f := &memFile{b: bytes.Clone(archive)}
		if err := x.Patch(f); err != nil {
			t.Fatalf("Patch() error = %v", err)
		}
		once := bytes.Clone(f.b)
		if err := x.Patch(f); err != nil {
			t.Fatalf("second Patch() error = %v", err)
		}
		if !bytes.Equal(once, f.b) {
			t.Error("second Patch() changed the file")
		}
	})
	t.Run("another archive", func(t *testing.T) {
		other := shop(newTestArchive(16), false)
		other.blocks[0].chunks = [][]byte{[]byte("9\tnine\n" + endMarker)} // blocks move
		f := &memFile{b: other.bytes()}
		before := bytes.Clone(f.b)
		if err := x.Patch(f); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Patch() of another archive error = %v, want ErrCorrupt", err)
		}
		if !bytes.Equal(before, f.b) {
			t.Error("Patch() changed a file it refused")
		}
	})
	t.Run("short file", func(t *testing.T) {
		f := &memFile{b: bytes.Clone(archive[:len(archive)/2])}
		if err := x.Patch(f); !errors.Is(err, ErrTruncated) {
			t.Errorf("Patch() of a truncated copy error = %v, want ErrTruncated", err)
		}
	})
	t.Run("write only", func(t *testing.T) {
		f := &memFile{b: bytes.Clone(archive)}
		if err := x.Patch(writeOnly{f}); err != nil {
			t.Fatalf("Patch() error = %v", err)
		}
		checkPatched(t, archive, f.b)
	})
	t.Run("offset too large", func(t *testing.T) {
		a := shop(newTestArchive(16), false)
		a.offSize = 1
		a.blocks[0].chunks = [][]byte{bytes.Repeat([]byte("row\n"), 100), []byte(endMarker)}
		big := a.bytes()
		f := &memFile{b: bytes.Clone(big)}
		if err := record(t, big).Patch(f); err == nil {
			t.Error("Patch() with blocks past 255 bytes and 1-byte offsets succeeded")
		}
	})
}

// TestOffsetsOfUncountable: archives whose rows cannot be counted still get their offsets, and
// archives that do not parse get none.
func TestOffsetsOfUncountable(t *testing.T) {
	lz4 := shop(newTestArchive(16), false)
	lz4.compression = int(algoLZ4)
	inserts := shop(newTestArchive(14), false)
	inserts.entries[4].copyStmt = ""
	for name, a := range map[string]testArchive{"lz4": lz4, "INSERT statements": inserts} {
		t.Run(name, func(t *testing.T) {
			archive := a.bytes()
			c := NewCounter()
			c.Write(archive)
			if _, err := c.Result(); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Result() error = %v, want ErrUnsupported", err)
			}
			if _, err := c.Layout(); !errors.Is(err, ErrUnsupported) {
				t.Errorf("Layout() error = %v, want ErrUnsupported", err)
			}
			x, err := c.Offsets()
			if err != nil {
				t.Fatalf("Offsets() error = %v", err)
			}
			f := &memFile{b: bytes.Clone(archive)}
			if err := x.Patch(f); err != nil {
				t.Fatalf("Patch() error = %v", err)
			}
			checkPatched(t, archive, f.b)
		})
	}
	c := NewCounter()
	archive := shop(newTestArchive(16), false).bytes()
	c.Write(archive[:len(archive)-1])
	if _, err := c.Offsets(); !errors.Is(err, ErrTruncated) {
		t.Errorf("Offsets() of a truncated archive error = %v, want ErrTruncated", err)
	}
}
