package archive

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// Data offset flags (K_OFFSET_* in pg_backup_archiver.h), the first byte of the offset field
// that ends every TOC entry of a custom archive.
const (
	offsetNotSet = 1 // K_OFFSET_POS_NOT_SET: the entry has data, its position is unknown
	offsetSet    = 2 // K_OFFSET_POS_SET: the entry's data block starts at the offset that follows
	offsetNoData = 3 // K_OFFSET_NO_DATA: the entry has no data block
)

// Offsets are the places in an archive's TOC where pg_dump could not write its data offsets,
// and what belongs there, recorded as the archive streamed through a Counter. Patch writes them
// into a file holding that archive.
//
// pg_dump writing to a pipe cannot seek back to fill in its TOC after the data, so every entry
// with data says "position not set" (K_OFFSET_POS_NOT_SET). pg_restore then finds a block by
// reading past all blocks before it, and pg_restore -j does so in every worker; it also cannot
// estimate table sizes to restore the largest first. A file pg_dump writes itself has the
// offsets: the position of each data block's type byte (_StartData and _StartLOs in
// pg_backup_custom.c), flag K_OFFSET_POS_SET. After Patch, the file is byte for byte what
// pg_dump -f would have written.
type Offsets struct {
	offSize int
	intSize int
	fields  []offsetField
}

// offsetField is one TOC entry's data offset field and its data block.
type offsetField struct {
	dumpID int
	at     int64 // the field's flag byte
	flag   byte  // the flag the stream had there
	block  int64 // the data block's type byte
	typ    byte  // the data block's type, for the check in Patch
}

// newOffsets records the offset fields of p's entries whose data blocks were seen. Entries that
// say K_OFFSET_NO_DATA are left alone even if a block names them: pg_restore does not read
// their data, and a patch must not change what is restored.
func newOffsets(p *parser) *Offsets {
	x := &Offsets{offSize: p.offSize, intSize: p.intSize}
	for _, e := range p.entries {
		if !e.seen || e.offFlag == offsetNoData {
			continue
		}
		x.fields = append(x.fields, offsetField{dumpID: e.DumpID, at: e.offsetAt, flag: e.offFlag, block: e.start, typ: e.blockType})
	}
	return x
}

// Len returns the number of TOC entries whose offset Patch writes: every entry whose data
// block the stream held.
func (x *Offsets) Len() int { return len(x.fields) }

// Patch writes every recorded data offset into w, which must hold the archive exactly as it
// streamed through the Counter: at each TOC entry's offset field, flag K_OFFSET_POS_SET and the
// position of the entry's data block, least significant byte first in the archive's offset
// size, as pg_dump's WriteOffset writes them. Nothing else changes, so the file keeps its
// size and every other byte.
//
// When w is also an io.ReaderAt (an *os.File opened read-write), Patch first checks that each
// field holds the flag the stream had and each block starts with its type and dump ID, and
// writes nothing if one does not: a file that is not the streamed archive is left as it was.
//
// A partly patched file (Patch failed on a write) is still a valid archive: each entry is
// either as pg_dump wrote it or patched, as each field is written whole in one WriteAt.
func (x *Offsets) Patch(w io.WriterAt) error {
	if r, ok := w.(io.ReaderAt); ok {
		if err := x.check(r); err != nil {
			return err
		}
	}
	field := make([]byte, 1+x.offSize)
	for _, f := range x.fields {
		if err := encodeOffset(field, f.block); err != nil {
			return fmt.Errorf("patch data offset of dump ID %d: %w", f.dumpID, err)
		}
		if _, err := w.WriteAt(field, f.at); err != nil {
			return fmt.Errorf("patch data offset of dump ID %d at byte %d: %w", f.dumpID, f.at, err)
		}
	}
	return nil
}

// check reads back what Patch relies on: the flag of each offset field, and the type byte and
// dump ID that start each data block.
func (x *Offsets) check(r io.ReaderAt) error {
	head := make([]byte, 2+x.intSize) // type byte, then the dump ID as an integer
	for _, f := range x.fields {
		if _, err := r.ReadAt(head[:1], f.at); err != nil {
			return fmt.Errorf("check data offset of dump ID %d at byte %d: %w", f.dumpID, f.at, readErr(err))
		}
		// A file patched before holds offsetSet; patching it again writes the same bytes.
		if head[0] != f.flag && head[0] != offsetSet {
			return fmt.Errorf("%w: check data offset of dump ID %d: byte %d is %d, the stream had flag %d there: not the archive the offsets were recorded from",
				ErrCorrupt, f.dumpID, f.at, head[0], f.flag)
		}
		if _, err := r.ReadAt(head, f.block); err != nil {
			return fmt.Errorf("check data block of dump ID %d at byte %d: %w", f.dumpID, f.block, readErr(err))
		}
		id, ok := decodeInt(head[1:])
		if head[0] != f.typ || !ok || id != int64(f.dumpID) {
			return fmt.Errorf("%w: check data block of dump ID %d: byte %d starts % x, not block type %d and that dump ID: not the archive the offsets were recorded from",
				ErrCorrupt, f.dumpID, f.block, head, f.typ)
		}
	}
	return nil
}

// readErr turns a short read into ErrTruncated.
func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return err
}

// encodeOffset fills field as WriteOffset does: the flag K_OFFSET_POS_SET, then off in
// len(field)-1 bytes, least significant first.
func encodeOffset(field []byte, off int64) error {
	if off < 0 {
		return fmt.Errorf("negative offset %d", off)
	}
	if n := len(field) - 1; n < 8 && off >= int64(1)<<(8*n) {
		return fmt.Errorf("offset %d does not fit the archive's %d-byte offsets", off, n)
	}
	field[0] = offsetSet
	v := uint64(off)
	for i := range field[1:] {
		field[1+i] = byte(v)
		v >>= 8
	}
	return nil
}

// decodeOffset reads an offset as ReadOffset does: least significant byte first. It returns -1
// for one that does not fit an int64.
func decodeOffset(b []byte) int64 {
	var v uint64
	for i, x := range b {
		if i >= 8 {
			if x != 0 {
				return -1
			}
			continue
		}
		v |= uint64(x) << (8 * i)
	}
	if v > math.MaxInt64 {
		return -1
	}
	return int64(v)
}
