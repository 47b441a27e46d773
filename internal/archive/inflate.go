package archive

import (
	"compress/zlib"
	"errors"
	"io"
	"iter"
)

// errStopped ends an inflater's coroutine when its stream is abandoned.
var errStopped = errors.New("inflater stopped")

// inflateBufSize is the output buffer of an inflater; with zlib's 32 KiB window it bounds an
// inflater's memory.
const inflateBufSize = 32 << 10

// inflater decompresses one zlib stream that arrives in pieces, as a table's data does in a
// gzip-compressed archive (each block is one stream; pg_dump's compressor uses deflateInit, so
// zlib framing, not gzip's), and hands the output to emit.
//
// compress/zlib pulls its input while the archive's bytes are pushed through Counter.Write, so
// the decompressor runs in a coroutine (iter.Pull): write hands it a piece and resumes it, and
// it gives control back when it needs the next piece. The coroutine runs only inside write,
// finish and stop, on the caller's goroutine, and ends when the stream ends or stop is called.
// Neither it nor emit may refer to the Counter, whose cleanup stops it when a Counter is
// dropped mid-block.
type inflater struct {
	in   []byte // input not yet consumed
	eof  bool   // no input follows in
	next func() (struct{}, bool)
	stop func()
	emit func([]byte) error // takes each piece of output; an error ends the stream

	ended bool  // the coroutine returned
	err   error // why it returned, nil when the stream ended well
}

func newInflater(emit func([]byte) error) *inflater {
	f := &inflater{emit: emit}
	f.next, f.stop = iter.Pull(f.run)
	return f
}

// run is the coroutine: it decompresses until the stream ends, yielding for input.
func (f *inflater) run(yield func(struct{}) bool) {
	src := &pushReader{f: f, yield: yield}
	zr, err := zlib.NewReader(src)
	if err != nil {
		f.err = err
		return
	}
	buf := make([]byte, inflateBufSize)
	for {
		n, err := zr.Read(buf)
		if n > 0 {
			if err := f.emit(buf[:n]); err != nil {
				f.err = err
				return
			}
		}
		if err == io.EOF {
			return // the stream ended and its checksum matched
		}
		if err != nil {
			f.err = err
			return
		}
	}
}

// write passes the next piece of the stream to the decompressor.
func (f *inflater) write(b []byte) error {
	if f.ended {
		if f.err != nil {
			return f.err
		}
		return errors.New("data after the end of the compressed stream")
	}
	f.in = b
	if _, ok := f.next(); !ok {
		f.ended = true
	}
	rest := len(f.in)
	f.in = nil
	switch {
	case f.ended && f.err != nil:
		return f.err
	case f.ended && rest > 0:
		return errors.New("data after the end of the compressed stream")
	}
	return nil
}

// finish ends the input and reports whether the stream ended well.
func (f *inflater) finish() error {
	if !f.ended {
		f.eof = true
		f.next() // reading past the input fails, so the coroutine returns
		f.ended = true
	}
	f.stop()
	return f.err
}

// pushReader is the decompressor's input: the pieces handed to write. As an io.ByteReader it
// keeps compress/flate from reading ahead, so the stream's end is found exactly.
type pushReader struct {
	f     *inflater
	yield func(struct{}) bool
}

// fill waits for input; an error means none will come.
func (r *pushReader) fill() error {
	for len(r.f.in) == 0 {
		if r.f.eof {
			return io.EOF
		}
		if !r.yield(struct{}{}) {
			return errStopped
		}
	}
	return nil
}

func (r *pushReader) Read(b []byte) (int, error) {
	if err := r.fill(); err != nil {
		return 0, err
	}
	n := copy(b, r.f.in)
	r.f.in = r.f.in[n:]
	return n, nil
}

func (r *pushReader) ReadByte() (byte, error) {
	if err := r.fill(); err != nil {
		return 0, err
	}
	c := r.f.in[0]
	r.f.in = r.f.in[1:]
	return c, nil
}
