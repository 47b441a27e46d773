package archive

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzCounter feeds arbitrary streams, seeded with real archives, in two ways: whole, and in
// pieces of a fuzzed size. Neither may panic or hold more than one value's bytes, and both must
// agree, so the result never depends on Write boundaries. ReadTOC must agree with the Counter
// on whether the header and TOC are readable.
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
