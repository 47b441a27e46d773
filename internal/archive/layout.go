package archive

import (
	"cmp"
	"fmt"
	"slices"
)

// Layout is where an archive's table data is: what a reader needs to find one table's rows
// without reading the archive from its start. It marshals to JSON as it is, for a snapshot's
// manifest.
type Layout struct {
	Version     string `json:"version"`     // archive format version, as Header.Version
	IntSize     int    `json:"int_size"`    // bytes of an integer's magnitude
	Compression string `json:"compression"` // of the data blocks, as Header.Compression
	// Tables are the TABLE DATA entries, in the order of their blocks in the archive.
	Tables []TableBlock `json:"tables"`
}

// TableBlock is one table's data block: where it is in the archive, which table it holds and
// that table's columns.
type TableBlock struct {
	DumpID int    `json:"dump_id"`
	Schema string `json:"schema"` // unquoted, as the TOC holds it
	Name   string `json:"name"`   // unquoted, as the TOC holds it
	// Columns are the names of the columns the block's COPY rows hold, in their order,
	// unquoted: those of pg_dump's COPY statement (which leaves out generated columns).
	Columns []string `json:"columns"`
	Rows    int64    `json:"rows"`
	// Start and End are the block's bytes [Start, End) from the archive's first byte: Start is
	// its block type byte (the data offset pg_dump records), End is just past its end marker.
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Key returns the table's key in Counter.Result's map: "schema.name".
func (t TableBlock) Key() string { return t.Schema + "." + t.Name }

// Layout returns the archive's Layout: every table's data block with its row count and
// columns. Like Result it ends the stream; call it after the last Write. Its error is Result's,
// or ErrUnsupported for a COPY statement it cannot read the columns of.
func (c *Counter) Layout() (Layout, error) {
	c.finish()
	if c.resErr != nil {
		return Layout{}, c.resErr
	}
	p := c.p
	l := Layout{Version: p.hdr.Version, IntSize: p.intSize, Compression: p.hdr.Compression, Tables: []TableBlock{}}
	for _, e := range p.entries {
		if e.Desc != "TABLE DATA" || !e.seen {
			continue
		}
		t, err := tableBlock(e)
		if err != nil {
			return Layout{}, err
		}
		t.Rows = c.rowsByID[e.DumpID]
		l.Tables = append(l.Tables, t)
	}
	slices.SortFunc(l.Tables, func(a, b TableBlock) int { return cmp.Compare(a.Start, b.Start) })
	return l, nil
}

// tableBlock describes a TABLE DATA entry; Rows is left for the caller.
func tableBlock(e *tocEntry) (TableBlock, error) {
	cols, err := copyColumns(e.copyStmt)
	if err != nil {
		return TableBlock{}, fmt.Errorf("%w: the COPY statement of %s: %w", ErrUnsupported, e.name(), err)
	}
	return TableBlock{DumpID: e.DumpID, Schema: e.Namespace, Name: e.Tag, Columns: cols, Start: e.start, End: e.end}, nil
}
