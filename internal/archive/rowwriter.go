package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// rowWriterBuf is the size of rowWriter's buffer: pg_dump writes one chunk per row, and the
// rows go out in writes of about this size.
const rowWriterBuf = 64 << 10

// keepBack is what rowWriter holds back until the data ends: the end marker and the byte before
// it, which tells a marker from a row ending in "\." (copyRows).
const keepBack = len(endMarker) + 1

// rowWriter passes a table's COPY text on to w without the end marker pg_dump appends ("\."
// and two empty lines), counting its rows. It buffers: the text goes out in writes of about
// rowWriterBuf bytes, and the last keepBack bytes stay until finish.
type rowWriter struct {
	w       io.Writer
	buf     []byte
	seen    int64 // bytes given to write
	written int64 // bytes w took
	lines   int64 // newlines in those
}

func newRowWriter(w io.Writer) *rowWriter {
	return &rowWriter{w: w, buf: make([]byte, 0, rowWriterBuf)}
}

// sinkWriteError is an error of the rowWriter's writer, told apart from the archive's errors on
// its way through the parser and the decompressor.
type sinkWriteError struct{ err error }

func (e *sinkWriteError) Error() string { return e.err.Error() }
func (e *sinkWriteError) Unwrap() error { return e.err }

// write takes the next piece of the text. Its errors are w's, as *sinkWriteError.
func (r *rowWriter) write(b []byte) error {
	r.seen += int64(len(b))
	for len(b) > 0 {
		n := copy(r.buf[len(r.buf):cap(r.buf)], b)
		r.buf = r.buf[:len(r.buf)+n]
		b = b[n:]
		if len(r.buf) == cap(r.buf) {
			if err := r.flush(len(r.buf) - keepBack); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the first n buffered bytes and keeps the rest.
func (r *rowWriter) flush(n int) error {
	if n <= 0 {
		return nil
	}
	out := r.buf[:n]
	m, err := r.w.Write(out)
	r.written += int64(m)
	r.lines += int64(bytes.Count(out[:m], []byte{'\n'}))
	if err == nil && m < n {
		err = io.ErrShortWrite
	}
	if err != nil {
		return &sinkWriteError{err}
	}
	r.buf = r.buf[:copy(r.buf, r.buf[n:])]
	return nil
}

// errNotWholeRows is finish's error for text that does not end with a newline.
var errNotWholeRows = errors.New("does not end with a whole row")

// finish writes the rest of the text, less the end marker, and returns the number of rows.
// Text without the marker is passed on whole, as copyRows counts it; text that does not end
// with a whole row is errNotWholeRows.
func (r *rowWriter) finish() (rows int64, err error) {
	b := r.buf
	n := len(b)
	switch {
	case n == 0:
	case bytes.HasSuffix(b, []byte(endMarker)) && (r.seen == int64(len(endMarker)) || (n > len(endMarker) && b[n-len(endMarker)-1] == '\n')):
		n -= len(endMarker)
	case b[n-1] != '\n':
		return 0, errNotWholeRows
	}
	if err := r.flush(n); err != nil {
		return 0, err
	}
	r.buf = r.buf[:0]
	return r.lines, nil
}

// tableSink is the parser's blockSink for reading one table: the target's COPY text goes to
// out, decompressed when the archive is gzip-compressed; every other block is passed over. The
// end of the target's block stops the parser with errBlockDone.
type tableSink struct {
	p      *parser
	target *tocEntry
	active bool // in the target's block
	out    *rowWriter
	inf    *inflater
	rows   int64
}

// errBlockDone stops the parser at the end of the target's block.
var errBlockDone = errors.New("the table's data block ended")

func (s *tableSink) start(e *tocEntry) error {
	s.active = e == s.target
	return nil
}

func (s *tableSink) data(b []byte) error {
	if !s.active {
		return nil
	}
	if s.p.algo == algoNone {
		return s.out.write(b)
	}
	if s.inf == nil {
		s.inf = newInflater(s.out.write)
	}
	if err := s.inf.write(b); err != nil {
		return s.decompressErr(err)
	}
	return nil
}

func (s *tableSink) end() error {
	if !s.active {
		return nil
	}
	s.active = false
	if s.inf != nil {
		err := s.inf.finish()
		s.inf = nil
		if err != nil {
			return s.decompressErr(err)
		}
	}
	rows, err := s.out.finish()
	if errors.Is(err, errNotWholeRows) {
		return s.p.corrupt("the data of %s %v", s.target.name(), err)
	}
	if err != nil {
		return err
	}
	s.rows = rows
	return errBlockDone
}

// decompressErr passes on the writer's errors and makes the others ErrCorrupt.
func (s *tableSink) decompressErr(err error) error {
	if we := (*sinkWriteError)(nil); errors.As(err, &we) {
		return we
	}
	return s.p.corrupt("decompress the data of %s: %v", s.target.name(), err)
}

// release stops the decompressor, if one runs.
func (s *tableSink) release() {
	if s.inf != nil {
		s.inf.stop()
		s.inf = nil
	}
}

// writeErr turns the sink's error for the writer into one for WriteTo's caller.
func (s *tableSink) writeErr(err error) error {
	if we := (*sinkWriteError)(nil); errors.As(err, &we) {
		return fmt.Errorf("write the rows of %s: %w", s.target.name(), we.err)
	}
	return err
}
