package archive

import (
	"fmt"
	"strings"
)

// state is where in the archive the parser is: which value the lexer is collecting.
type state uint8

const (
	// header.go
	stMagic state = iota
	stVMaj
	stVMin
	stVRev
	stIntSize
	stOffSize
	stFormat
	stCompression
	stCreated
	stDBName
	stServerVersion
	stDumpVersion
	// toc.go
	stTOCCount
	stEntry
	// data.go
	stBlockType
	stBlockID
	stChunkLen
	stChunkData
	stBlobOID
	// ReadTOC stops here, after the TOC.
	stDone
)

// blockSink receives the table data blocks (BLK_DATA) of an archive. Large-object blocks are
// parsed past without it. An error stops the parser.
type blockSink interface {
	start(e *tocEntry) error
	data(b []byte) error // one piece of a chunk, never empty
	end() error
}

// parser is the archive's grammar over the lexer: a state machine fed by arbitrary pieces of
// the stream, holding no more than one value's bytes, the header and the TOC.
type parser struct {
	lexer
	st      state
	tocOnly bool      // stop after the TOC
	sink    blockSink // data blocks; unused when tocOnly

	// Header (header.go).
	hdr     Header
	vmaj    byte
	vmin    byte
	version int
	offSize int
	algo    algorithm
	created int // creation-time integers read

	// TOC (toc.go).
	left    int64   // entries still to read
	fields  []field // layout of an entry in this version
	fi      int     // index in fields of the value being read
	cur     *tocEntry
	entries []*tocEntry
	byID    map[int]*tocEntry

	// Data (data.go).
	block   *tocEntry // entry whose data block is being read
	blobs   bool      // the block holds large objects
	blockAt int64     // position of the current block's type byte
}

func newParser(sink blockSink, tocOnly bool) *parser {
	p := &parser{sink: sink, tocOnly: tocOnly, byID: make(map[int]*tocEntry)}
	p.expectBytes(len(magic))
	return p
}

// feed parses the next piece of the stream. After an error the parser must not be fed again.
func (p *parser) feed(b []byte) error {
	for len(b) > 0 && p.st != stDone {
		n := min(len(b), p.need)
		piece := b[:n]
		b = b[n:]
		p.need -= n
		p.pos += int64(n)
		switch p.prim {
		case primSkip:
		case primData:
			if err := p.sink.data(piece); err != nil {
				return err
			}
		default:
			if len(p.acc) == 0 && p.need == 0 {
				p.val = piece // arrived whole: use it in place
			} else {
				p.acc = append(p.acc, piece...)
				p.val = p.acc
			}
		}
		if p.need == 0 {
			if err := p.complete(); err != nil {
				return err
			}
		}
	}
	return nil
}

// complete finishes the value just collected and moves the grammar on.
func (p *parser) complete() error {
	switch p.prim {
	case primInt:
		v, ok := decodeInt(p.val)
		if !ok {
			return p.corrupt("integer out of range")
		}
		p.ival = v
	case primStrLen:
		v, ok := decodeInt(p.val)
		if !ok {
			return p.corrupt("string length out of range")
		}
		p.val = nil
		switch {
		case v < 0:
			p.null, p.slen = true, 0
		case v > maxString:
			return p.corrupt("string of %d bytes", v)
		case v > 0:
			p.null, p.slen = false, int(v)
			if p.keep {
				p.expect(primStr, int(v))
			} else {
				p.expect(primSkip, int(v))
			}
			return nil // the body follows
		default:
			p.null, p.slen = false, 0
		}
	case primSkip:
		p.val = nil
	}
	return p.step()
}

func (p *parser) step() error {
	switch {
	case p.st < stTOCCount:
		return p.headerStep()
	case p.st < stBlockType:
		return p.tocStep()
	default:
		return p.dataStep()
	}
}

func (p *parser) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s (at byte %d)", ErrCorrupt, fmt.Sprintf(format, args...), p.pos)
}

func (p *parser) unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// notArchive is the error for a stream that does not start with the magic string in val.
func (p *parser) notArchive() error {
	return fmt.Errorf("%w: starts with %q, not %q", ErrNotArchive, p.val, magic)
}

// truncated is the error for a stream that ended where the parser is now.
func (p *parser) truncated() error {
	if p.st == stMagic {
		if p.pos == 0 {
			return fmt.Errorf("%w: empty stream", ErrNotArchive)
		}
		if !strings.HasPrefix(magic, string(p.acc)) {
			p.val = p.acc
			return p.notArchive()
		}
	}
	return fmt.Errorf("%w: stream ends after %d bytes, inside %s", ErrTruncated, p.pos, p.where())
}

// where describes the part of the archive being read, for errors.
func (p *parser) where() string {
	switch {
	case p.st < stTOCCount:
		return "the header"
	case p.st == stTOCCount:
		return "the TOC entry count"
	case p.st < stBlockType:
		return fmt.Sprintf("TOC entry %d", len(p.entries)+1)
	case p.block != nil:
		return "the data of " + p.block.name()
	default:
		return "a data block header"
	}
}

// missingData reports TOC entries with data whose data block the stream did not hold: an
// archive cut exactly between two blocks.
func (p *parser) missingData() error {
	var first *tocEntry
	n := 0
	for _, e := range p.entries {
		if e.HasData && !e.seen {
			if first == nil {
				first = e
			}
			n++
		}
	}
	if n > 0 {
		more := ""
		if n > 1 {
			more = fmt.Sprintf(" and %d more TOC entries", n-1)
		}
		return fmt.Errorf("%w: stream ends after %d bytes, before the data of %s%s", ErrTruncated, p.pos, first.name(), more)
	}
	return nil
}
