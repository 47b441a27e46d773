package archive

import (
	"bytes"
	"compress/zlib"
	"strconv"
)

// testArchive builds custom-format archives for what the installed pg_dump cannot write:
// only pg_dump 15 (archive version 1.14) is on this machine, so the layouts of pg_dump 16
// (1.15) and 17 (1.16), other integer sizes and broken archives are made here, following
// WriteHead and WriteToc in pg_backup_archiver.c and the block writers of pg_backup_custom.c.
type testArchive struct {
	vmaj, vmin, vrev byte
	intSize, offSize byte
	format           byte
	compression      int // zlib level before 1.15, algorithm byte since
	entries          []testEntry
	blocks           []testBlock
}

type testEntry struct {
	id       int
	hasData  bool
	desc     string
	ns       string // "" writes NULL
	tag      string
	owner    string
	copyStmt string // "" writes NULL, as pg_dump --inserts does
	deps     []int
}

// testBlock is a data block: chunks of a table's data, or large objects.
type testBlock struct {
	typ    byte
	id     int
	chunks [][]byte
	blobs  []testBlob
}

type testBlob struct {
	oid    int
	chunks [][]byte
}

// newTestArchive returns an uncompressed archive of version 1.minor with pg_dump's sizes.
func newTestArchive(minor byte) testArchive {
	return testArchive{vmaj: 1, vmin: minor, intSize: 4, offSize: 8, format: formatCustom}
}

func (a testArchive) version() int {
	return (int(a.vmaj)*256+int(a.vmin))*256 + int(a.vrev)
}

func (a testArchive) bytes() []byte {
	w := &testWriter{intSize: int(a.intSize)}
	w.raw([]byte(magic))
	w.raw([]byte{a.vmaj, a.vmin, a.vrev, a.intSize, a.offSize, a.format})
	if a.version() >= vers1_15 {
		w.raw([]byte{byte(a.compression)})
	} else {
		w.int(a.compression)
	}
	for _, v := range []int{5, 4, 3, 2, 1, 125, 0} { // creation time
		w.int(v)
	}
	w.str("shop")
	w.str("17.2")
	w.str("17.2 (Debian 17.2-1)")
	w.int(len(a.entries))
	for _, e := range a.entries {
		w.int(e.id)
		w.int(map[bool]int{false: 0, true: 1}[e.hasData])
		w.str("1259")
		w.str(strconv.Itoa(16384 + e.id))
		w.str(e.tag)
		w.str(e.desc)
		w.int(2) // section
		w.str("CREATE something;\n")
		w.str("DROP something;\n")
		w.strOrNull(e.copyStmt)
		w.strOrNull(e.ns)
		w.str("") // tablespace
		if a.version() >= vers1_14 {
			w.str("heap")
		}
		if a.version() >= vers1_16 {
			w.int('r') // relkind
		}
		w.str(e.owner)
		w.str("false")
		for _, d := range e.deps {
			w.str(strconv.Itoa(d))
		}
		w.int(-1) // end of dependencies
		flag := byte(3)
		if e.hasData {
			flag = 1
		}
		w.raw([]byte{flag})
		w.raw(make([]byte, a.offSize))
	}
	for _, b := range a.blocks {
		w.raw([]byte{b.typ})
		w.int(b.id)
		if b.typ == blkBlobs {
			for _, lo := range b.blobs {
				w.int(lo.oid)
				w.chunks(lo.chunks)
			}
			w.int(0)
			continue
		}
		w.chunks(b.chunks)
	}
	return w.buf.Bytes()
}

type testWriter struct {
	buf     bytes.Buffer
	intSize int
}

func (w *testWriter) raw(b []byte) { w.buf.Write(b) }

// int writes v as WriteInt does: a sign byte, then the magnitude least significant byte first.
func (w *testWriter) int(v int) {
	sign := byte(0)
	if v < 0 {
		sign, v = 1, -v
	}
	w.buf.WriteByte(sign)
	for range w.intSize {
		w.buf.WriteByte(byte(v))
		v >>= 8
	}
}

func (w *testWriter) str(s string) {
	w.int(len(s))
	w.buf.WriteString(s)
}

func (w *testWriter) strOrNull(s string) {
	if s == "" {
		w.int(-1)
		return
	}
	w.str(s)
}

func (w *testWriter) chunks(chunks [][]byte) {
	for _, c := range chunks {
		w.int(len(c))
		w.raw(c)
	}
	w.int(0)
}

// split cuts b into chunks of n bytes.
func split(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		k := min(n, len(b))
		out = append(out, b[:k])
		b = b[k:]
	}
	return out
}

// deflate compresses b into one zlib stream, as pg_dump's gzip compressor does per block.
func deflate(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}
