package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// FrameChecker is an io.Writer that walks the structure of a zstd stream without decoding it:
// frame headers, block headers and lengths, and the content checksum's place. It proves the
// stream is whole (no frame cut short, nothing after the last frame that is not a frame) at the
// cost of reading it, which the commit gate does anyway for the checksum. Decoding every block
// (what verify --full does) would cost as much as compressing.
type FrameChecker struct {
	state  int
	need   int    // bytes still wanted by the current state
	buf    []byte // collects small headers
	frames int
	desc   byte // frame header descriptor
	last   bool // the current block is the frame's last
	sum    bool // the frame ends with a 4-byte checksum
	off    int64
	err    error
}

const (
	zsMagic      = iota // 4 bytes: frame magic
	zsDescriptor        // 1 byte: frame header descriptor
	zsHeaderRest        // window descriptor, dictionary id, content size
	zsBlockHead         // 3 bytes
	zsSkip              // block content or skippable frame content
	zsChecksum          // 4 bytes
)

const (
	zstdMagic         = 0xFD2FB528
	skippableMask     = 0xFFFFFFF0
	skippableMagic    = 0x184D2A50
	maxZstdBlockBytes = 128 << 10
)

func NewFrameChecker() *FrameChecker { return &FrameChecker{state: zsMagic, need: 4} }

func (c *FrameChecker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && c.err == nil {
		if c.state == zsSkip {
			k := min(c.need, len(p))
			c.need -= k
			p = p[k:]
			c.off += int64(k)
			if c.need == 0 {
				c.afterSkip()
			}
			continue
		}
		k := min(c.need-len(c.buf), len(p))
		c.buf = append(c.buf, p[:k]...)
		p = p[k:]
		c.off += int64(k)
		if len(c.buf) == c.need {
			c.step()
		}
	}
	return n, nil
}

// step handles a complete header in c.buf.
func (c *FrameChecker) step() {
	b := c.buf
	c.buf = c.buf[:0]
	switch c.state {
	case zsMagic:
		m := binary.LittleEndian.Uint32(b)
		switch {
		case m == zstdMagic:
			c.state, c.need = zsDescriptor, 1
		case m&skippableMask == skippableMagic:
			c.state, c.need, c.last = zsHeaderRest, 4, true // size field, then skip
			c.desc = 0xff
		default:
			c.fail("not a zstd frame (magic %08x)", m)
		}
	case zsDescriptor:
		d := b[0]
		if d&0x08 != 0 {
			c.fail("reserved bit set in frame header")
			return
		}
		c.desc, c.sum = d, d&0x04 != 0
		single := d&0x20 != 0
		fcs := []int{0, 2, 4, 8}[d>>6]
		if d>>6 == 0 && single {
			fcs = 1
		}
		rest := fcs + []int{0, 1, 2, 4}[d&0x03]
		if !single {
			rest++
		}
		if rest == 0 {
			c.state, c.need = zsBlockHead, 3
			return
		}
		c.state, c.need = zsHeaderRest, rest
	case zsHeaderRest:
		if c.desc == 0xff { // skippable frame: b is its size
			c.state, c.need = zsSkip, int(binary.LittleEndian.Uint32(b))
			if c.need == 0 {
				c.afterSkip()
			}
			return
		}
		c.state, c.need = zsBlockHead, 3
	case zsBlockHead:
		h := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		c.last = h&1 != 0
		size := int(h >> 3)
		switch (h >> 1) & 3 {
		case 1: // RLE: one byte of content
			size = 1
		case 3:
			c.fail("reserved block type")
			return
		}
		if size > maxZstdBlockBytes {
			c.fail("block of %d bytes exceeds the format's maximum", size)
			return
		}
		c.state, c.need = zsSkip, size
		if size == 0 {
			c.afterSkip()
		}
	case zsChecksum:
		c.endFrame()
	}
}

// afterSkip moves on once a block's (or skippable frame's) content has been passed.
func (c *FrameChecker) afterSkip() {
	switch {
	case c.desc == 0xff:
		c.endFrame()
	case !c.last:
		c.state, c.need = zsBlockHead, 3
	case c.sum:
		c.state, c.need = zsChecksum, 4
	default:
		c.endFrame()
	}
}

func (c *FrameChecker) endFrame() {
	c.frames++
	c.state, c.need, c.desc, c.last, c.sum = zsMagic, 4, 0, false, false
}

func (c *FrameChecker) fail(format string, args ...any) {
	c.err = fmt.Errorf("zstd stream at byte %d: %s", c.off, fmt.Sprintf(format, args...))
}

// Close reports whether the stream ended whole, after at least one frame.
func (c *FrameChecker) Close() error {
	switch {
	case c.err != nil:
		return c.err
	case c.state != zsMagic || len(c.buf) != 0:
		return fmt.Errorf("zstd stream cut short at byte %d (inside a frame)", c.off)
	case c.frames == 0:
		return errors.New("zstd stream has no frame")
	}
	return nil
}
