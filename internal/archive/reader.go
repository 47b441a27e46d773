package archive

import (
	"errors"
	"fmt"
	"math"
)

// Errors wrapped by ReadTOC and Counter.Result, for callers that branch on the kind of failure.
var (
	// ErrNotArchive: the stream does not start with a custom-format archive header.
	ErrNotArchive = errors.New("not a pg_dump custom-format archive")
	// ErrTruncated: the stream ends inside the header, the TOC or a data block, or before the
	// data of every TOC entry that has some.
	ErrTruncated = errors.New("archive truncated")
	// ErrCorrupt: the stream breaks the format (a bad block type, an absurd length, a data
	// block for no TOC entry, a compressed stream that does not decode).
	ErrCorrupt = errors.New("archive corrupt")
	// ErrUnsupported: a well-formed archive this package cannot read or count: another
	// archive format or version, or data it cannot count (lz4 or zstd blocks, INSERT
	// statements instead of COPY text).
	ErrUnsupported = errors.New("archive not supported")
	// ErrNoTable: the archive holds no data for the table asked for (OpenTable, CopyTable).
	ErrNoTable = errors.New("no such table in the archive")
)

// maxString bounds a string's length. TOC strings are SQL statements and names; a longer one
// means the stream is not what it claims to be.
const maxString = 64 << 20

// maxKeptBuf is the most the lexer keeps allocated between values.
const maxKeptBuf = 64 << 10

// Archive format versions (MAKE_ARCHIVE_VERSION in pg_backup_archiver.h) whose layout differs.
const (
	vers1_12 = (1*256+12)*256 + 0 // pg_dump 9.0: oldest read here
	vers1_14 = (1*256+14)*256 + 0 // pg_dump 12: table access method in TOC entries
	vers1_15 = (1*256+15)*256 + 0 // pg_dump 16: compression algorithm byte in the header
	vers1_16 = (1*256+16)*256 + 0 // pg_dump 17: relkind in TOC entries
	versMax  = (1*256+16)*256 + 255
)

// prim is the kind of value the lexer is collecting.
type prim uint8

const (
	primBytes  prim = iota // fixed count of bytes, kept (magic, single bytes, offsets)
	primInt                // sign byte and intSize bytes
	primStrLen             // the length of a string
	primStr                // the body of a string that is kept
	primSkip               // bytes that are passed over (unkept string bodies, large objects)
	primData               // a chunk of table data, handed to the sink
)

// lexer splits the stream into the archive's primitive values, whatever the Write boundaries:
// a value arriving in pieces is gathered in acc, one arriving whole is used in place.
type lexer struct {
	prim    prim
	need    int    // bytes the current value still needs
	acc     []byte // pieces of the current value (never for primSkip and primData)
	keep    bool   // a string's body is kept
	intSize int
	pos     int64 // bytes consumed so far

	// The last completed value.
	val  []byte // primBytes and primStr: its bytes, which may be the caller's; valid in step only
	ival int64  // primInt
	null bool   // strings: NULL
	slen int    // strings: length
}

// expect starts collecting a value of n bytes.
func (l *lexer) expect(p prim, n int) {
	l.prim, l.need = p, n
	if cap(l.acc) > maxKeptBuf {
		l.acc = nil // a long string was gathered; do not hold its memory for good
	} else {
		l.acc = l.acc[:0]
	}
}

func (l *lexer) expectBytes(n int) { l.expect(primBytes, n) }
func (l *lexer) expectInt()        { l.expect(primInt, 1+l.intSize) }

// expectStr starts collecting a string; its body is kept in val only when keep is set.
func (l *lexer) expectStr(keep bool) {
	l.keep = keep
	l.expect(primStrLen, 1+l.intSize)
}

// decodeInt decodes an integer: a sign byte, then the magnitude least significant byte first.
func decodeInt(b []byte) (int64, bool) {
	var v uint64
	for i, x := range b[1:] {
		v |= uint64(x) << (8 * i)
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	if b[0] != 0 {
		return -int64(v), true
	}
	return int64(v), true
}

// formatVersion renders an archive version: "1.14", or "1.14-1" when the revision is not 0
// (pg_restore --list writes "1.14-0").
func formatVersion(v int) string {
	maj, min, rev := v>>16, (v>>8)&0xff, v&0xff
	if rev != 0 {
		return fmt.Sprintf("%d.%d-%d", maj, min, rev)
	}
	return fmt.Sprintf("%d.%d", maj, min)
}
