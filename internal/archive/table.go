package archive

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// tableReadBuf is TableReader's read size while it looks for the table's block.
const tableReadBuf = 64 << 10

// TableReader reads one table's rows from an archive: its COPY text, one line per row, as
// pg_dump got it from COPY ... TO STDOUT, without the end-of-data line "\." and the empty lines
// pg_dump appends. OpenTable and OpenTableBlock make one; WriteTo reads the rows once.
type TableReader struct {
	r       io.Reader
	p       *parser
	sink    *tableSink
	table   TableBlock
	used    bool
	buf     []byte // the read buffer
	pending []byte // bytes OpenTable read past the TOC, in buf
}

// OpenTable reads the header and TOC of the archive r, from its first byte, and finds the data
// of table schema.name (unquoted names, as TableBlock has them; schema "" matches any schema
// when only one has such a table). It reads r in pieces of 64 KiB, so it may read past the
// TOC; WriteTo goes on from there.
//
// A table the archive holds no data for is an error wrapping ErrNoTable that names the tables
// with close names. Data it cannot read is ErrUnsupported: INSERT statements (pg_dump
// --inserts) or lz4 or zstd blocks. Other errors are ReadTOC's.
func OpenTable(r io.Reader, schema, name string) (*TableReader, error) {
	sink := &tableSink{}
	p := newParser(sink, true)
	sink.p = p
	buf := make([]byte, tableReadBuf)
	var rest []byte // read past the TOC
	for p.st != stDone {
		n, err := r.Read(buf)
		before := p.pos
		if ferr := p.feed(buf[:n]); ferr != nil {
			return nil, ferr
		}
		switch {
		case p.st == stDone:
			rest = buf[p.pos-before : n]
		case errors.Is(err, io.EOF):
			return nil, p.truncated()
		case err != nil:
			return nil, fmt.Errorf("read archive: %w", err)
		}
	}
	e, err := findTable(p.entries, schema, name)
	if err != nil {
		return nil, err
	}
	if err := readable(e, p.algo); err != nil {
		return nil, err
	}
	t, err := tableBlock(e)
	if err != nil {
		return nil, err
	}
	sink.target = e
	p.tocOnly = false
	p.st = stBlockType
	p.expectBytes(1)
	return &TableReader{r: r, p: p, sink: sink, table: t, buf: buf, pending: rest}, nil
}

// OpenTableBlock reads table t's data block from r, which starts at the block's first byte
// (t.Start) of an archive laid out as l: the seek case, where Layout was kept from the stream
// and the archive is read from the block on. It reads no byte past t.End.
func OpenTableBlock(r io.Reader, l Layout, t TableBlock) (*TableReader, error) {
	algo, ok := algorithmNamed(l.Compression)
	if !ok {
		return nil, fmt.Errorf("%w: compression %q in the layout", ErrUnsupported, l.Compression)
	}
	switch {
	case l.IntSize < 1 || l.IntSize > 8:
		return nil, fmt.Errorf("%w: integer size %d in the layout", ErrUnsupported, l.IntSize)
	case t.DumpID <= 0 || t.Start < 0 || t.End <= t.Start:
		return nil, fmt.Errorf("table block %s: dump ID %d, bytes [%d, %d) is not a block", t.Key(), t.DumpID, t.Start, t.End)
	}
	e := &tocEntry{Entry: Entry{DumpID: t.DumpID, Desc: "TABLE DATA", Namespace: t.Schema, Tag: t.Name, HasData: true}, copy: true}
	if err := readable(e, algo); err != nil {
		return nil, err
	}
	sink := &tableSink{target: e}
	p := &parser{sink: sink, algo: algo, byID: map[int]*tocEntry{t.DumpID: e}, entries: []*tocEntry{e}}
	sink.p = p
	p.intSize = l.IntSize
	p.pos = t.Start // positions in errors and in e are the archive's
	p.st = stBlockType
	p.expectBytes(1)
	return &TableReader{r: io.LimitReader(r, t.End-t.Start), p: p, sink: sink, table: t}, nil
}

// readable reports data TableReader cannot turn into COPY text.
func readable(e *tocEntry, a algorithm) error {
	if !e.copy {
		return fmt.Errorf("%w: the data of %s is not COPY text (pg_dump --inserts?)", ErrUnsupported, e.name())
	}
	if a != algoNone && a != algoGzip {
		return fmt.Errorf("%w: the data of %s is %s-compressed; reading it needs uncompressed or gzip data blocks", ErrUnsupported, e.name(), a)
	}
	return nil
}

// algorithmNamed is the algorithm of a Header.Compression name.
func algorithmNamed(name string) (algorithm, bool) {
	for a := algoNone; a <= algoZstd; a++ {
		if a.String() == name {
			return a, true
		}
	}
	return 0, false
}

// Table returns the table being read: its dump ID, names and columns, and once WriteTo has
// returned without error, its row count and block's position (those of the TableBlock given to
// OpenTableBlock until then).
func (t *TableReader) Table() TableBlock {
	tb := t.table
	tb.Columns = slices.Clone(tb.Columns)
	return tb
}

// Columns returns the names of the table's columns, in the order of the fields of its rows.
func (t *TableReader) Columns() []string { return t.Table().Columns }

// WriteTo writes the table's rows to w, reading the archive up to the end of the table's block,
// in reads of 64 KiB (none past TableBlock.End for OpenTableBlock).
// It returns the number of bytes written. The archive's errors wrap ErrTruncated, ErrCorrupt
// or ErrUnsupported; w's and r's are returned wrapped. WriteTo reads once: a second call is an
// error.
func (t *TableReader) WriteTo(w io.Writer) (int64, error) {
	if t.used {
		return 0, errors.New("archive: TableReader.WriteTo called twice")
	}
	t.used = true
	s := t.sink
	s.out = newRowWriter(w)
	defer s.release()
	if t.buf == nil {
		t.buf = make([]byte, tableReadBuf)
	}
	if len(t.pending) > 0 {
		ferr := t.p.feed(t.pending)
		t.pending = nil
		if errors.Is(ferr, errBlockDone) {
			return t.done()
		}
		if ferr != nil {
			return s.out.written, s.writeErr(ferr)
		}
	}
	for {
		n, err := t.r.Read(t.buf)
		if n > 0 {
			ferr := t.p.feed(t.buf[:n])
			if errors.Is(ferr, errBlockDone) {
				return t.done()
			}
			if ferr != nil {
				return s.out.written, s.writeErr(ferr)
			}
		}
		switch {
		case errors.Is(err, io.EOF) && t.p.st == stBlockType:
			return s.out.written, fmt.Errorf("%w: stream ends after %d bytes, before the data of %s", ErrTruncated, t.p.pos, s.target.name())
		case errors.Is(err, io.EOF):
			return s.out.written, t.p.truncated()
		case err != nil:
			return s.out.written, fmt.Errorf("read archive: %w", err)
		}
	}
}

// done checks the block just read against the layout, if one was given, and completes Table.
func (t *TableReader) done() (int64, error) {
	s := t.sink
	e := s.target
	if t.table.End != 0 && (e.start != t.table.Start || e.end != t.table.End) {
		return s.out.written, fmt.Errorf("%w: the data of %s is bytes [%d, %d), the layout says [%d, %d)",
			ErrCorrupt, e.name(), e.start, e.end, t.table.Start, t.table.End)
	}
	t.table.Start, t.table.End, t.table.Rows = e.start, e.end, s.rows
	return s.out.written, nil
}

// CopyTable writes the COPY text rows of table schema.name in the archive r, read from its
// first byte, to w, and returns the table's columns: OpenTable, then WriteTo.
func CopyTable(w io.Writer, r io.Reader, schema, name string) ([]string, error) {
	t, err := OpenTable(r, schema, name)
	if err != nil {
		return nil, err
	}
	if _, err := t.WriteTo(w); err != nil {
		return nil, err
	}
	return t.Columns(), nil
}

// ListTables reads the archive r to its end and returns its Layout: every table with data, its
// columns, row count and block. Errors are Counter.Layout's, or r's wrapped.
func ListTables(r io.Reader) (Layout, error) {
	c := NewCounter()
	if _, err := io.Copy(c, r); err != nil {
		c.finish()
		return Layout{}, fmt.Errorf("read archive: %w", err)
	}
	return c.Layout()
}
