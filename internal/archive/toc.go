package archive

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Entry is one TOC entry.
type Entry struct {
	DumpID    int
	Desc      string // "TABLE", "TABLE DATA", "SEQUENCE SET", "BLOBS", ...
	Namespace string
	Tag       string
	Owner     string
	HasData   bool // hadDumper
	// Deps are the dump IDs of the entries this one depends on, as pg_dump recorded them: a
	// foreign key's include its own table's and the referenced table's, an index's its table's.
	Deps []int
	// Defn is the entry's SQL definition, kept only for the entries about the database itself
	// (DATABASE, DATABASE PROPERTIES, and the COMMENT, ACL and SECURITY LABEL tagged
	// "DATABASE <name>"): what a restore needs to recreate its properties.
	Defn string
}

// DatabaseLevel reports whether an entry is about the database itself rather than an object in
// it: the entries pg_restore applies only with --create.
func (e Entry) DatabaseLevel() bool {
	switch e.Desc {
	case "DATABASE", "DATABASE PROPERTIES":
		return true
	case "COMMENT", "ACL", "SECURITY LABEL":
		return strings.HasPrefix(e.Tag, "DATABASE ")
	}
	return false
}

// tocEntry is an Entry with what the data section needs.
type tocEntry struct {
	Entry
	copy     bool   // it has a COPY statement: its data is COPY text (not INSERT statements)
	copyStmt string // the COPY statement, "COPY public.t (a, b) FROM stdin;\n"
	seen     bool   // its data block was read

	// Where its parts are, in bytes from the start of the archive.
	offsetAt  int64 // the flag byte of the data offset field (_WriteExtraToc's WriteOffset)
	offFlag   byte  // that flag as the archive has it: K_OFFSET_POS_NOT_SET, _POS_SET or _NO_DATA
	offValue  int64 // the offset in that field (meaningful when offFlag is offsetSet)
	start     int64 // its data block's type byte, where pg_dump's _StartData records dataPos
	blockType byte  // blkData or blkBlobs
	end       int64 // just past its data block's last byte
}

// name is the entry as errors show it: "TABLE DATA public.accounts".
func (e *tocEntry) name() string {
	if e.Tag == e.Desc {
		return e.Desc // "BLOBS"
	}
	if e.Namespace == "" {
		return e.Desc + " " + e.Tag
	}
	return e.Desc + " " + e.Namespace + "." + e.Tag
}

// field is one value of a TOC entry.
type field uint8

const (
	fDumpID field = iota
	fHadDumper
	fTag
	fDesc
	fCopyStmt
	fNamespace
	fOwner
	fDeps // dependency dump IDs as strings, ending with a NULL string
	fOffset
	fDefn
	fSkipStr
	fSkipInt
)

// entryFields is the layout of a TOC entry (ReadToc in pg_backup_archiver.c, then the custom
// format's _ReadExtraToc) for archive version v >= 1.12.
func entryFields(v int) []field {
	f := []field{
		fDumpID, fHadDumper,
		fSkipStr, fSkipStr, // catalog table OID, object OID
		fTag, fDesc,
		fSkipInt,        // section
		fDefn, fSkipStr, // definition, drop statement
		fCopyStmt, fNamespace,
		fSkipStr, // tablespace
	}
	if v >= vers1_14 {
		f = append(f, fSkipStr) // table access method
	}
	if v >= vers1_16 {
		f = append(f, fSkipInt) // relkind
	}
	return append(f, fOwner, fSkipStr /* "with oids": "false" */, fDeps, fOffset)
}

func (p *parser) expectField(f field) {
	switch f {
	case fDumpID, fHadDumper, fSkipInt:
		p.expectInt()
	case fTag, fDesc, fNamespace, fOwner:
		p.expectStr(true)
	case fCopyStmt:
		p.expectStr(true)
	case fDeps:
		p.expectStr(true)
	case fSkipStr:
		p.expectStr(false)
	case fDefn:
		p.expectStr(p.cur.DatabaseLevel())
	case fOffset:
		p.expectBytes(1 + p.offSize) // K_OFFSET_* flag, then the offset
	}
}

// tocStep takes the TOC value just read.
func (p *parser) tocStep() error {
	if p.st == stTOCCount {
		if p.ival < 0 {
			return p.corrupt("TOC entry count %d", p.ival)
		}
		p.left = p.ival
		p.fields = entryFields(p.version)
		return p.nextEntry()
	}
	e := p.cur
	switch p.fields[p.fi] {
	case fDumpID:
		if p.ival <= 0 || p.ival > math.MaxInt32 {
			return p.corrupt("TOC entry dump ID %d", p.ival)
		}
		e.DumpID = int(p.ival)
	case fHadDumper:
		e.HasData = p.ival != 0
	case fTag:
		e.Tag = string(p.val)
	case fDesc:
		e.Desc = string(p.val)
	case fDefn:
		if e.DatabaseLevel() {
			e.Defn = string(p.val)
		}
	case fCopyStmt:
		e.copy = p.slen > 0
		e.copyStmt = string(p.val)
	case fNamespace:
		e.Namespace = string(p.val)
	case fOwner:
		e.Owner = string(p.val)
	case fDeps:
		if !p.null {
			// pg_dump writes each as a decimal dump ID; anything else is not one to follow.
			if id, err := strconv.Atoi(string(p.val)); err == nil && id > 0 {
				e.Deps = append(e.Deps, id)
			}
			p.expectStr(true) // another dependency
			return nil
		}
	case fOffset:
		// K_OFFSET_POS_NOT_SET, K_OFFSET_POS_SET or K_OFFSET_NO_DATA.
		flag := p.val[0]
		if flag < offsetNotSet || flag > offsetNoData {
			return p.corrupt("data offset flag %d in TOC entry %d", flag, e.DumpID)
		}
		e.offsetAt = p.pos - int64(len(p.val))
		e.offFlag = flag
		e.offValue = decodeOffset(p.val[1:])
	}
	p.fi++
	if p.fi < len(p.fields) {
		p.expectField(p.fields[p.fi])
		return nil
	}
	if _, dup := p.byID[e.DumpID]; dup {
		return p.corrupt("dump ID %d twice in the TOC", e.DumpID)
	}
	p.byID[e.DumpID] = e
	p.entries = append(p.entries, e)
	return p.nextEntry()
}

// nextEntry starts the next TOC entry, or the data after the last.
func (p *parser) nextEntry() error {
	if p.left == 0 {
		if p.tocOnly {
			p.st = stDone
			return nil
		}
		p.st = stBlockType
		p.expectBytes(1)
		return nil
	}
	p.left--
	p.cur = &tocEntry{}
	p.st, p.fi = stEntry, 0
	p.expectField(p.fields[0])
	return nil
}

// ReadTOC reads the header and table of contents from the start of an archive stream (it stops
// reading after the TOC; r may be a pipe).
//
// It reads no byte past the TOC, so the data blocks can still be read from r; as that takes
// many small reads, wrap an unbuffered r (a pipe, a file) in a bufio.Reader when the rest of
// the stream is not needed. Errors wrap ErrNotArchive, ErrTruncated, ErrCorrupt or
// ErrUnsupported, or are r's read errors.
func ReadTOC(r io.Reader) (Header, []Entry, error) {
	p := newParser(nil, true)
	buf := make([]byte, 32<<10)
	for p.st != stDone {
		n, err := io.ReadFull(r, buf[:min(p.need, len(buf))])
		if ferr := p.feed(buf[:n]); ferr != nil {
			return Header{}, nil, ferr
		}
		switch {
		case p.st == stDone:
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return Header{}, nil, p.truncated()
		case err != nil:
			return Header{}, nil, fmt.Errorf("read archive: %w", err)
		}
	}
	entries := make([]Entry, len(p.entries))
	for i, e := range p.entries {
		entries[i] = e.Entry
	}
	return p.hdr, entries, nil
}
