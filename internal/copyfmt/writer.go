// Package copyfmt converts the rows of PostgreSQL's COPY text format — what COPY ... TO STDOUT
// writes and pg_dump stores for each table — into CSV, COPY text or JSON lines, as a stream.
//
// COPY text is one line per row, fields separated by tabs, NULL written \N, and backslash
// escapes for the rest: \b \f \n \r \t \v, \ooo (octal), \xHH (hex), and a backslash before
// any other byte for that byte. The CSV is byte for byte what the server's
// COPY ... TO STDOUT WITH (FORMAT csv, HEADER true) prints for the same rows and columns.
//
// Values pass as bytes in the archive's encoding (pg_dump's client encoding, by default the
// database's). Only JSON needs UTF-8: bytes that are not become U+FFFD there.
package copyfmt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Format is an output format of Writer.
type Format string

// The formats.
const (
	// CSV is COPY's CSV format with a header line: what COPY ... TO STDOUT WITH (FORMAT csv,
	// HEADER true) prints.
	CSV Format = "csv"
	// Text is COPY's text format, without a header, as COPY ... TO STDOUT prints it: the input
	// unchanged.
	Text Format = "text"
	// JSONL is one JSON object per row, its keys the column names in column order, its values
	// the columns' text as JSON strings, NULL as null.
	JSONL Format = "jsonl"
)

// Formats lists the formats, for help texts.
var Formats = []Format{CSV, Text, JSONL}

// ParseFormat returns the Format named name.
func ParseFormat(name string) (Format, error) {
	for _, f := range Formats {
		if string(f) == name {
			return f, nil
		}
	}
	return "", fmt.Errorf("copyfmt: unknown format %q (want csv, text or jsonl)", name)
}

// outBuf is the size of the output Writer gathers before it writes.
const outBuf = 64 << 10

// maxKeptBuf is the most Writer keeps allocated for a row between rows: a row longer than that
// gets its buffers, which are dropped after it.
const maxKeptBuf = 1 << 20

// Writer converts COPY text rows written to it into its format on an underlying writer. The
// rows may arrive in pieces of any size. Memory stays bounded by the longest row (PostgreSQL
// bounds a row to about 1 GB), whatever the number of rows.
//
// Close must be called after the last row: it converts a last row without a newline and
// writes what is buffered. A Writer is for one goroutine at a time.
type Writer struct {
	w       io.Writer
	format  Format
	columns []string
	keys    [][]byte // JSONL: each column's `"name":`

	out     []byte   // converted output not yet written
	partial []byte   // the start of a row whose newline has not come
	fields  [][]byte // the current row's raw fields
	values  [][]byte // and their values
	nulls   []bool
	decoded []byte // values that needed unescaping

	started bool // the header is out
	ended   bool // the end of data line \. was read; the rest is ignored
	rows    int64
	err     error // sticky: the first failure
}

// NewWriter returns a Writer of format f onto w for rows of the given columns (names unquoted,
// in the rows' order, as archive.TableBlock.Columns has them). The CSV header is written with
// the first row, or by Close.
func NewWriter(w io.Writer, f Format, columns []string) (*Writer, error) {
	if _, err := ParseFormat(string(f)); err != nil {
		return nil, err
	}
	cw := &Writer{w: w, format: f, columns: columns, out: make([]byte, 0, outBuf+outBuf/4)}
	if f == JSONL {
		cw.keys = jsonKeys(columns)
	}
	return cw, nil
}

// Rows returns the number of rows converted so far.
func (w *Writer) Rows() int64 { return w.rows }

// Write converts the complete rows in p and keeps the start of an incomplete one. Its errors
// are the underlying writer's and rows that do not have a field per column.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.start()
	if w.format == Text {
		return w.passThrough(p)
	}
	n := len(p)
	if w.ended {
		return n, nil
	}
	if len(w.partial) > 0 {
		i := lineEnd(w.partial, p)
		if i < 0 {
			w.partial = append(w.partial, p...)
			return n, nil
		}
		w.partial = append(w.partial, p[:i]...)
		if err := w.row(w.partial); err != nil {
			return 0, err
		}
		w.partial = w.partial[:0]
		p = p[i+1:]
	}
	for !w.ended && len(p) > 0 {
		i := lineEnd(nil, p)
		if i < 0 {
			w.partial = append(w.partial, p...)
			break
		}
		if err := w.row(p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	if cap(w.partial) > maxKeptBuf && len(w.partial) == 0 {
		w.partial = nil
	}
	if len(w.out) >= outBuf {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Close converts a last row that lacks its newline, writes what is buffered and, with no row
// at all, the CSV header. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	w.start()
	if len(w.partial) > 0 && !w.ended {
		if err := w.row(w.partial); err != nil {
			return err
		}
		w.partial = nil
	}
	if err := w.flush(); err != nil {
		return err
	}
	w.err = errors.New("copyfmt: Writer is closed")
	return nil
}

// start writes the CSV header before the first row.
func (w *Writer) start() {
	if !w.started {
		w.started = true
		if w.format == CSV {
			w.out = appendCSVHeader(w.out, w.columns)
		}
	}
}

// passThrough writes COPY text as it is.
func (w *Writer) passThrough(p []byte) (int, error) {
	if err := w.flush(); err != nil {
		return 0, err
	}
	w.rows += int64(bytes.Count(p, []byte{'\n'}))
	n, err := w.w.Write(p)
	if err != nil {
		w.err = fmt.Errorf("copyfmt: write: %w", err)
		return n, w.err
	}
	return n, nil
}

// row converts one line.
func (w *Writer) row(line []byte) error {
	if string(line) == endOfData {
		w.ended = true
		return nil
	}
	var escaped bool
	w.fields, escaped = splitRow(w.fields[:0], line)
	if len(w.columns) == 0 && len(line) == 0 {
		w.fields = w.fields[:0] // a table without columns has empty rows
	}
	if len(w.fields) != len(w.columns) {
		w.err = fmt.Errorf("copyfmt: row %d has %d fields, want one per column (%d)", w.rows+1, len(w.fields), len(w.columns))
		return w.err
	}
	w.values, w.nulls = w.values[:0], w.nulls[:0]
	w.decoded = w.decoded[:0]
	for _, f := range w.fields {
		switch {
		case isNull(f):
			w.values, w.nulls = append(w.values, nil), append(w.nulls, true)
		case !escaped || bytes.IndexByte(f, '\\') < 0:
			w.values, w.nulls = append(w.values, f), append(w.nulls, false)
		default:
			start := len(w.decoded)
			w.decoded = decodeField(w.decoded, f)
			w.values, w.nulls = append(w.values, w.decoded[start:len(w.decoded):len(w.decoded)]), append(w.nulls, false)
		}
	}
	switch w.format {
	case CSV:
		w.out = csvRow(w.out, w.values, w.nulls)
	case JSONL:
		w.out = jsonRow(w.out, w.keys, w.values, w.nulls)
	}
	if cap(w.decoded) > maxKeptBuf {
		w.decoded = nil
	}
	w.rows++
	if len(w.out) >= outBuf {
		return w.flush()
	}
	return nil
}

// flush writes the converted output.
func (w *Writer) flush() error {
	if len(w.out) == 0 {
		return nil
	}
	_, err := w.w.Write(w.out)
	if cap(w.out) > maxKeptBuf {
		w.out = make([]byte, 0, outBuf+outBuf/4)
	} else {
		w.out = w.out[:0]
	}
	if err != nil {
		w.err = fmt.Errorf("copyfmt: write: %w", err)
		return w.err
	}
	return nil
}

// String returns the format's name.
func (f Format) String() string { return string(f) }
