package archive

import (
	"bytes"
	"fmt"
	"maps"
	"runtime"
)

// Counter is an io.Writer that parses a custom-format archive as it is written and counts the
// rows of every table's data. It never fails a Write: a stream it cannot parse is recorded as
// the error Result returns, and further bytes are ignored (the snapshot must not fail because
// counting did).
//
// Memory stays bounded whatever the archive's size: the TOC, one value's bytes and, for
// gzip-compressed data, one decompressor (a 32 KiB window and a 32 KiB buffer). A Counter is
// for one goroutine at a time; its zero value is ready to use.
type Counter struct {
	p    *parser
	err  error // first failure; bytes after it are ignored
	done bool  // Result ran; Writes after it are ignored

	counts map[string]int64
	tables map[string]Table // Result's keys to their parts
	result map[string]int64
	resErr error

	// The TABLE DATA block being counted; table is nil outside one, or in a block not counted.
	table *tocEntry
	lines int64 // newlines in the block's data
	tail  tail
	inf   *inflater
	// cleanup stops inf if the Counter is dropped without Result, so its coroutine ends.
	cleanup runtime.Cleanup
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
	if !c.done {
		c.init()
		c.done = true
		c.result, c.resErr = c.finish()
		c.releaseInflater()
	}
	return maps.Clone(c.result), c.resErr
}

func (c *Counter) finish() (map[string]int64, error) {
	switch {
	case c.err != nil:
		return nil, c.err
	case c.p.st != stBlockType:
		return nil, c.p.truncated()
	}
	if err := c.p.missingData(); err != nil {
		return nil, err
	}
	return c.counts, nil
}

// start, data and end make Counter the parser's blockSink.

func (c *Counter) start(e *tocEntry) error {
	if e.Desc != "TABLE DATA" {
		return nil
	}
	if !e.copy {
		return fmt.Errorf("%w: cannot count the rows of %s: its data is not COPY text (pg_dump --inserts?)",
			ErrUnsupported, e.name())
	}
	if a := c.p.algo; a != algoNone && a != algoGzip {
		return fmt.Errorf("%w: cannot count the rows of %s: its data is %s-compressed; counting needs uncompressed or gzip data blocks",
			ErrUnsupported, e.name(), a)
	}
	c.table, c.lines, c.tail = e, 0, tail{}
	return nil
}

func (c *Counter) data(b []byte) error {
	if c.table == nil {
		return nil
	}
	if c.p.algo == algoNone {
		c.lines += int64(bytes.Count(b, []byte{'\n'}))
		c.tail.add(b)
		return nil
	}
	if c.inf == nil {
		c.inf = newInflater()
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
		lines, tail, err := c.inf.finish()
		c.releaseInflater()
		if err != nil {
			return c.p.corrupt("decompress the data of %s: %v", e.name(), err)
		}
		c.lines, c.tail = lines, tail
	}
	rows, ok := copyRows(c.lines, &c.tail)
	if !ok {
		return c.p.corrupt("the data of %s does not end with a whole row", e.name())
	}
	key := e.Namespace + "." + e.Tag
	if _, dup := c.counts[key]; dup {
		return c.p.corrupt("two data blocks for table %s", key)
	}
	c.counts[key] = rows
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
