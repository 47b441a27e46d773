package archive

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzCounter feeds arbitrary streams, seeded with real archives, in two ways: whole, and in
// pieces of a fuzzed size. Neither may panic or hold more than one value's bytes, and both must
// agree, so the result never depends on Write boundaries. ReadTOC must agree with the Counter
// on whether the header and TOC are readable. Where the stream parses, Patch must point every
// offset at its block, and every table read from its block must have the rows counted.
func FuzzCounter(f *testing.F) {
	for _, name := range seedFiles {
		archive := readFixture(f, name)
		f.Add(archive, uint16(0))
		f.Add(archive, uint16(4096))
		f.Add(archive[:len(archive)/2], uint16(17))
	}
	f.Add(shop(newTestArchive(16), false).bytes(), uint16(3))
	gz := shop(newTestArchive(15), true)
	gz.compression = int(algoGzip)
	f.Add(gz.bytes(), uint16(5))
	f.Add([]byte("PGDMP"), uint16(1))

	f.Fuzz(func(t *testing.T, archive []byte, size uint16) {
		whole, wholeErr := count(archive)
		pieces, piecesErr := count(archive, 1+int(size))
		if (wholeErr == nil) != (piecesErr == nil) {
			t.Fatalf("whole: %v; in pieces of %d: %v", wholeErr, 1+int(size), piecesErr)
		}
		if diff := cmp.Diff(whole, pieces); diff != "" {
			t.Fatalf("counts differ between whole and pieces of %d (-whole +pieces):\n%s", 1+int(size), diff)
		}
		for _, err := range []error{wholeErr, piecesErr} {
			if err != nil && !errors.Is(err, ErrNotArchive) && !errors.Is(err, ErrTruncated) &&
				!errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Result() error %v wraps none of the package's errors", err)
			}
		}
		checkOffsetsAndTables(t, archive, wholeErr)
		_, entries, tocErr := ReadTOC(bytes.NewReader(archive))
		if wholeErr == nil && tocErr != nil {
			t.Fatalf("Counter read the archive but ReadTOC() error = %v", tocErr)
		}
		for _, e := range entries {
			if e.DumpID <= 0 {
				t.Fatalf("ReadTOC() returned dump ID %d", e.DumpID)
			}
		}
	})
}

// checkOffsetsAndTables patches archive and reads each of its tables from its block.
func checkOffsetsAndTables(t *testing.T, archive []byte, countErr error) {
	c := NewCounter()
	c.Write(archive)
	x, err := c.Offsets()
	if countErr == nil && err != nil {
		t.Fatalf("Result() succeeded but Offsets() error = %v", err)
	}
	if err == nil {
		f := &memFile{b: bytes.Clone(archive)}
		if err := x.Patch(f); err != nil {
			t.Fatalf("Patch() error = %v", err)
		}
		checkPatched(t, archive, f.b)
	}
	l, err := c.Layout()
	switch {
	case countErr != nil && err == nil:
		t.Fatalf("Layout() succeeded, Result() error = %v", countErr)
	case countErr == nil && err != nil && !errors.Is(err, ErrUnsupported):
		// Layout alone reads the COPY statements' columns.
		t.Fatalf("Layout() error = %v, Result() succeeded", err)
	}
	for _, tb := range l.Tables {
		tr, err := OpenTableBlock(bytes.NewReader(archive[tb.Start:]), l, tb)
		if err != nil {
			t.Fatalf("OpenTableBlock(%s) error = %v", tb.Key(), err)
		}
		if _, err := tr.WriteTo(io.Discard); err != nil {
			t.Fatalf("OpenTableBlock(%s).WriteTo() error = %v", tb.Key(), err)
		}
		if got := tr.Table().Rows; got != tb.Rows {
			t.Fatalf("OpenTableBlock(%s) read %d rows, Layout has %d", tb.Key(), got, tb.Rows)
		}
	}
}
