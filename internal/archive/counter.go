package archive

import (
	"bytes"
	"fmt"
	"maps"
	"runtime"
)

// Counter is an io.Writer that parses a custom-format archive as it is written and counts the
// rows of every table's data. On the way it records where each TOC entry's data offset field
// and each data block are, for Offsets and Layout. It never fails a Write: a stream it cannot
// parse is recorded as the error Result returns, and further bytes are ignored (the snapshot
// must not fail because counting did).
//
// Memory stays bounded whatever the archive's size: the TOC (with each table's COPY
// statement), one value's bytes and, for gzip-compressed data, one decompressor (a 32 KiB
// window and a 32 KiB buffer). A Counter is for one goroutine at a time; its zero value is
// ready to use.
type Counter struct {
	p        *parser
	err      error // first parse failure; bytes after it are ignored
	countErr error // first table whose rows cannot be counted; parsing goes on for Offsets
	done     bool  // the stream ended (Result, Offsets or Layout ran); Writes after it are ignored

	counts   map[string]int64
	tables   map[string]Table // Result's keys to their parts
	rowsByID map[int]int64    // row counts by dump ID, for Layout
	result   map[string]int64
	parseErr error // err, or how the stream ended short
	resErr   error // parseErr, else countErr

	// The TABLE DATA block being counted; table is nil outside one, or in a block not counted.
	table *tocEntry
	lc    *lineCounter // the block's newlines; shared with inf, which must not refer to c
	inf   *inflater
	// cleanup stops inf if the Counter is dropped without Result, so its coroutine ends.
	cleanup runtime.Cleanup
}

// lineCounter counts the newlines of a table's COPY text and keeps its end.
type lineCounter struct {
	lines int64
	tail  tail
}

func (l *lineCounter) add(b []byte) error {
	l.lines += int64(bytes.Count(b, []byte{'\n'}))
	l.tail.add(b)
	return nil
}

// NewCounter returns a Counter ready for the first byte of an archive.
func NewCounter() *Counter {
	c := &Counter{}
	c.init()
	return c
}

func (c *Counter) init() {
	if c.p == nil {
		c.p = newParser(c, false)
		c.counts = make(map[string]int64)
		c.rowsByID = make(map[int]int64)
		c.lc = &lineCounter{}
	}
}

// Write parses p. It always returns len(p), nil.
func (c *Counter) Write(p []byte) (int, error) {
	c.init()
	if c.err == nil && !c.done {
		if err := c.p.feed(p); err != nil {
			c.err = err
			c.releaseInflater()
		}
	}
	return len(p), nil
}

// Result returns the row count per table, keyed "schema.table" (identifiers as pg_dump's TOC holds
// them: unquoted names, e.g. `public.accounts`, `Odd Schema.Weird "Table" ünï`), for every TABLE DATA
// entry whose data block was seen, and an error when counting was not possible (not a custom archive,
// compressed data blocks it cannot read, truncated stream, parse error). Call after the last Write.
//
// On error the map is nil; the error wraps ErrNotArchive, ErrTruncated, ErrCorrupt or
// ErrUnsupported. Result ends the stream: Writes after it are ignored, and later calls return
// the same result. The map is the caller's.
func (c *Counter) Result() (map[string]int64, error) {
	c.finish()
	return maps.Clone(c.result), c.resErr
}

// finish ends the stream once: it settles the result and stops the decompressor.
func (c *Counter) finish() {
	if c.done {
		return
	}
	c.init()
	c.done = true
	c.releaseInflater()
	switch {
	case c.err != nil:
		c.parseErr = c.err
	case c.p.st != stBlockType:
		c.parseErr = c.p.truncated()
	default:
		c.parseErr = c.p.missingData()
	}
	c.resErr = c.parseErr
	if c.resErr == nil {
		c.resErr = c.countErr
	}
	if c.resErr == nil {
		c.result = c.counts
	}
}

// Offsets returns where the archive's TOC lacks data offsets and what belongs there, for
// Offsets.Patch. Like Result it ends the stream; call it after the last Write. An archive whose
// rows could not be counted (lz4 or zstd data, INSERT statements) still has its offsets; the
// error is one of Result's for an archive that could not be read to its end.
func (c *Counter) Offsets() (*Offsets, error) {
	c.finish()
	if c.parseErr != nil {
		return nil, c.parseErr
	}
	return newOffsets(c.p), nil
}

// start, data and end make Counter the parser's blockSink.

func (c *Counter) start(e *tocEntry) error {
	if e.Desc != "TABLE DATA" || c.countErr != nil {
		return nil
	}
	if !e.copy {
		c.countErr = fmt.Errorf("%w: cannot count the rows of %s: its data is not COPY text (pg_dump --inserts?)",
			ErrUnsupported, e.name())
		return nil
	}
	if a := c.p.algo; a != algoNone && a != algoGzip {
		c.countErr = fmt.Errorf("%w: cannot count the rows of %s: its data is %s-compressed; counting needs uncompressed or gzip data blocks",
			ErrUnsupported, e.name(), a)
		return nil
	}
	c.table, *c.lc = e, lineCounter{}
	return nil
}

func (c *Counter) data(b []byte) error {
	if c.table == nil {
		return nil
	}
	if c.p.algo == algoNone {
		return c.lc.add(b)
	}
	if c.inf == nil {
		c.inf = newInflater(c.lc.add)
		c.cleanup = runtime.AddCleanup(c, func(stop func()) { stop() }, c.inf.stop)
	}
	if err := c.inf.write(b); err != nil {
		return c.p.corrupt("decompress the data of %s: %v", c.table.name(), err)
	}
	return nil
}

func (c *Counter) end() error {
	e := c.table
	if e == nil {
		return nil
	}
	c.table = nil
	if c.inf != nil {
		err := c.inf.finish()
		c.releaseInflater()
		if err != nil {
			return c.p.corrupt("decompress the data of %s: %v", e.name(), err)
		}
	}
	rows, ok := copyRows(c.lc.lines, &c.lc.tail)
	if !ok {
		return c.p.corrupt("the data of %s does not end with a whole row", e.name())
	}
	key := e.Namespace + "." + e.Tag
	if _, dup := c.counts[key]; dup {
		return c.p.corrupt("two data blocks for table %s", key)
	}
	c.counts[key] = rows
	c.rowsByID[e.DumpID] = rows
	if c.tables == nil {
		c.tables = make(map[string]Table)
	}
	c.tables[key] = Table{Schema: e.Namespace, Name: e.Tag}
	return nil
}

// Table is a table's schema and name, unquoted, as the archive holds them.
type Table struct{ Schema, Name string }

// Table returns the schema and name behind a key of Result's map ("schema.table" is ambiguous
// when names hold dots).
func (c *Counter) Table(key string) (Table, bool) {
	t, ok := c.tables[key]
	return t, ok
}

// releaseInflater stops the running decompressor, if any.
func (c *Counter) releaseInflater() {
	if c.inf != nil {
		c.cleanup.Stop()
		c.inf.stop()
		c.inf = nil
	}
}
