package archive

import "math"

// Data block types (pg_backup_archiver.h).
const (
	blkData  = 1 // a table's data: chunks
	blkBlobs = 3 // large objects: per object its OID and chunks, ending with OID 0
)

// dataStep takes the data-section value just read. Table data chunks go to the sink; large
// objects are passed over.
func (p *parser) dataStep() error {
	switch p.st {
	case stBlockType:
		p.blockAt = p.pos - 1
		switch p.val[0] {
		case blkData:
			p.blobs = false
		case blkBlobs:
			p.blobs = true
		default:
			return p.corrupt("data block type %d", p.val[0])
		}
		p.st = stBlockID
		p.expectInt()
	case stBlockID:
		e := p.byID[int(max(min(p.ival, math.MaxInt32), 0))]
		switch {
		case e == nil:
			return p.corrupt("data block for dump ID %d, which the TOC does not list", p.ival)
		case e.seen:
			return p.corrupt("second data block for %s", e.name())
		case p.blobs && e.Desc == "TABLE DATA":
			return p.corrupt("large-object block for %s", e.name())
		}
		e.seen = true
		e.start = p.blockAt
		e.blockType = blkData
		if p.blobs {
			e.blockType = blkBlobs
		}
		p.block = e
		if p.blobs {
			p.st = stBlobOID
			p.expectInt()
			return nil
		}
		if err := p.sink.start(e); err != nil {
			return err
		}
		p.st = stChunkLen
		p.expectInt()
	case stChunkLen:
		switch n := p.ival; {
		case n < 0 || n > math.MaxInt:
			return p.corrupt("chunk length %d in the data of %s", n, p.block.name())
		case n == 0:
			return p.endChunks()
		case p.blobs:
			p.st = stChunkData
			p.expect(primSkip, int(n))
		default:
			p.st = stChunkData
			p.expect(primData, int(n))
		}
	case stChunkData:
		p.st = stChunkLen
		p.expectInt()
	case stBlobOID:
		if p.ival == 0 {
			p.block.end = p.pos
			return p.endBlock()
		}
		p.st = stChunkLen
		p.expectInt()
	}
	return nil
}

// endChunks follows a zero chunk length: the end of a table's block or of one large object.
func (p *parser) endChunks() error {
	if p.blobs {
		p.st = stBlobOID
		p.expectInt()
		return nil
	}
	p.block.end = p.pos
	if err := p.sink.end(); err != nil {
		return err
	}
	return p.endBlock()
}

func (p *parser) endBlock() error {
	p.block = nil
	p.st = stBlockType
	p.expectBytes(1)
	return nil
}
