// Package zstdpar compresses a stream with zstd on several cores: the input is cut into chunks
// of a fixed size, each chunk becomes one independent zstd frame, and the frames are written in
// input order. Concatenated frames are one standard zstd stream, so `zstd -dc` and any zstd
// decoder read the output as a whole.
//
// The caller's Write only copies into a chunk buffer and hands full chunks off: compression runs
// on a pool of goroutines and the output (ordered writes to the underlying writer) on one more,
// so neither the producer nor the consumer of the stream waits for the other while a core is
// free. Memory is flat: at most Threads+2 chunks exist, each with an input and an output
// buffer, and they are reused for the whole stream.
package zstdpar

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// DefaultLevel is the level used when Options.Level is zero. On archive-like COPY text
// SpeedFastest (close to zstd -1) compresses about 4x; SpeedDefault saves only 2-3% more bytes
// for about a third more CPU, and on hex text (bytea) it is both slower and no smaller. The
// stage must keep up with pg_dump on few cores, so speed wins.
const DefaultLevel = zstd.SpeedFastest

// DefaultChunkSize is the input bytes per frame when Options.ChunkSize is zero. 1 MiB frames
// come within 0.6% of one unbroken stream's size (4 MiB: 0.1%), compress as fast per core as
// any size, and keep the Writer near 14 MiB with two threads (4 MiB chunks: about 50 MiB).
const DefaultChunkSize = 1 << 20

// MaxChunkSize bounds Options.ChunkSize: a frame's window may not exceed what decoders accept
// by default, and a chunk is held in memory Threads+2 times over.
const MaxChunkSize = 64 << 20

// maxWindow caps the window announced in frame headers; zstd's own levels 1..19 stay at or
// below 8 MiB, so every decoder accepts it without extra options.
const maxWindow = 8 << 20

// ErrClosed is returned by Write and ReadFrom after Close.
var ErrClosed = errors.New("zstdpar: writer closed")

// ErrAborted is the error of a Writer stopped by Abort(nil).
var ErrAborted = errors.New("zstdpar: writer aborted")

// Options tunes a Writer. The zero value is ready to use.
type Options struct {
	// Level is the klauspost encoder level; zero means DefaultLevel.
	// zstd.EncoderLevelFromZstd maps zstd's numeric levels onto these.
	Level zstd.EncoderLevel
	// ChunkSize is the input bytes per frame; zero means DefaultChunkSize. Larger chunks
	// compress slightly better and use proportionally more memory.
	ChunkSize int
	// Threads is the number of compressing goroutines; zero means runtime.GOMAXPROCS(0).
	Threads int
}

// Stats counts a Writer's progress. Its values may be read while the stream runs.
type Stats struct {
	In     int64 // bytes accepted by Write and ReadFrom
	Out    int64 // compressed bytes written to the underlying writer
	Frames int64 // frames written to the underlying writer
}

// chunk is one frame's worth of input and, once compressed, the frame.
type chunk struct {
	in   []byte        // input; cap is the chunk size
	out  []byte        // the compressed frame
	done chan struct{} // receives once out is ready (cap 1)
}

// Writer compresses what is written to it into independent zstd frames written in order to an
// underlying writer. Write, ReadFrom and Close must be called from one goroutine at a time;
// Abort and Stats may be called from any goroutine at any time. Close (or Abort) must be called
// to end the Writer's goroutines.
type Writer struct {
	dst       io.Writer
	enc       *zstd.Encoder
	chunkSize int
	maxChunks int

	// Owned by the caller's goroutine.
	cur       *chunk // being filled; nil when none is held
	allocated int
	submitted int64
	closed    bool
	closeErr  error

	work    chan *chunk // to the compressors
	ordered chan *chunk // to the output goroutine, in input order
	free    chan *chunk // written frames, ready for reuse

	quit    chan struct{} // closed on the first error or Abort
	mu      sync.Mutex
	err     error // first error; set once, with quit closed
	stopped bool  // Close has returned; later errors are ignored

	wg sync.WaitGroup

	in, out, frames atomic.Int64
}

// NewWriter returns a Writer compressing into w. It starts o.Threads compressing goroutines and
// one output goroutine; Close or Abort ends them. Close does not close w.
func NewWriter(w io.Writer, o Options) (*Writer, error) {
	level := o.Level
	if level == 0 {
		level = DefaultLevel
	}
	size := o.ChunkSize
	if size == 0 {
		size = DefaultChunkSize
	}
	if size < 0 || size > MaxChunkSize {
		return nil, fmt.Errorf("chunk size %d: want 0 or 1..%d", o.ChunkSize, MaxChunkSize)
	}
	threads := o.Threads
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if threads < 0 {
		return nil, fmt.Errorf("threads %d: want 0 or more", o.Threads)
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		// A frame never refers past its own chunk, so a larger window only costs memory
		// (each encoder keeps twice its window of history).
		zstd.WithWindowSize(windowFor(size)),
		zstd.WithEncoderConcurrency(threads),
		// pg_dump writes bytea as hex text: blocks of it hold few matches, and without
		// entropy coding of all-literal blocks SpeedFastest would store them raw, twice
		// their entropy-coded size. Coding them costs far less per byte than matching text.
		zstd.WithAllLitEntropyCompression(true),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	// One chunk filling, one per compressor, one being written: the output goroutine never
	// waits for the caller, and the compressors never wait for the output while it keeps up.
	n := threads + 2
	zw := &Writer{
		dst:       w,
		enc:       enc,
		chunkSize: size,
		maxChunks: n,
		work:      make(chan *chunk, n),
		ordered:   make(chan *chunk, n),
		free:      make(chan *chunk, n),
		quit:      make(chan struct{}),
	}
	for range threads {
		zw.wg.Go(zw.compress)
	}
	zw.wg.Go(zw.output)
	return zw, nil
}

// windowFor returns the smallest window that holds a chunk of size bytes, within the bounds
// zstd allows and maxWindow.
func windowFor(size int) int {
	w := 1 << bits.Len(uint(size-1))
	return min(max(w, zstd.MinWindowSize), maxWindow)
}

// Write copies p into chunk buffers and hands each full chunk to the compressors. It blocks
// only while all chunks are in flight. After any error, including one from the underlying
// writer or Abort, it returns that error.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.check(); err != nil {
		return 0, err
	}
	n := 0
	for len(p) > 0 {
		c, err := w.chunk()
		if err != nil {
			return n, err
		}
		k := copy(c.in[len(c.in):w.chunkSize], p)
		c.in = c.in[:len(c.in)+k]
		p = p[k:]
		n += k
		w.in.Add(int64(k))
		if len(c.in) == w.chunkSize {
			w.submit()
		}
	}
	return n, nil
}

// ReadFrom reads r into chunk buffers until io.EOF, saving io.Copy its intermediate buffer. An
// error from r is returned as is and leaves the Writer usable; the caller decides whether to
// Close or Abort.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if err := w.check(); err != nil {
			return total, err
		}
		c, err := w.chunk()
		if err != nil {
			return total, err
		}
		k, rerr := r.Read(c.in[len(c.in):w.chunkSize])
		c.in = c.in[:len(c.in)+k]
		total += int64(k)
		w.in.Add(int64(k))
		if len(c.in) == w.chunkSize {
			w.submit()
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// Close compresses the last partial chunk, waits until every frame is written and every
// goroutine has ended, and returns the first error. A stream with no input still gets one
// empty frame, because an empty file is not a valid zstd stream. After Abort, Close only waits:
// it returns once a downstream Write in progress returns. Close is idempotent.
func (w *Writer) Close() error {
	if w.closed {
		return w.closeErr
	}
	if w.check() == nil && ((w.cur != nil && len(w.cur.in) > 0) || w.submitted == 0) {
		// chunk cannot fail here: a held chunk is returned as is, and with nothing submitted
		// fewer than maxChunks exist.
		if _, err := w.chunk(); err == nil {
			w.submit()
		}
	}
	w.closed = true
	close(w.work)
	close(w.ordered)
	w.wg.Wait()
	w.mu.Lock()
	w.stopped = true
	w.closeErr = w.err
	w.mu.Unlock()
	return w.closeErr
}

// Abort stops the Writer without writing what is pending: a Write or ReadFrom blocked in
// another goroutine returns err, the compressors drop their chunks, and no further frame is
// written. It does not wait: the goroutines end on their own, the output goroutine once a
// downstream Write in progress returns; Close waits for them. A nil err means ErrAborted.
// Abort after Close, or after another error, changes nothing. It suits context.AfterFunc.
func (w *Writer) Abort(err error) {
	if err == nil {
		err = ErrAborted
	}
	w.fail(err)
}

// Stats returns the bytes and frames processed so far.
func (w *Writer) Stats() Stats {
	return Stats{In: w.in.Load(), Out: w.out.Load(), Frames: w.frames.Load()}
}

// check returns the error that stops Write, if any.
func (w *Writer) check() error {
	w.mu.Lock()
	err := w.err
	w.mu.Unlock()
	if err == nil && w.closed {
		return ErrClosed
	}
	return err
}

// fail records the first error and wakes every goroutine waiting on the Writer.
func (w *Writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.stopped {
		return
	}
	w.err = err
	close(w.quit)
}

// chunk returns the chunk being filled, allocating one while fewer than maxChunks exist, or
// else taking a free one, waiting for the output goroutine to release one if need be.
// Allocating up to the limit before reusing makes the footprint of every stream longer than
// maxChunks chunks the same, whatever the timing; shorter ones allocate only what they use.
func (w *Writer) chunk() (*chunk, error) {
	if w.cur != nil {
		return w.cur, nil
	}
	if w.allocated < w.maxChunks {
		w.allocated++
		w.cur = &chunk{
			in:   make([]byte, 0, w.chunkSize),
			out:  make([]byte, 0, w.enc.MaxEncodedSize(w.chunkSize)),
			done: make(chan struct{}, 1),
		}
		return w.cur, nil
	}
	select {
	case c := <-w.free:
		w.cur = c
		return c, nil
	case <-w.quit:
		return nil, w.check()
	}
}

// submit hands the chunk being filled to a compressor and queues it for output. The channels
// hold maxChunks each and a chunk is in each at most once, so the sends never block.
func (w *Writer) submit() {
	c := w.cur
	w.cur = nil
	w.submitted++
	w.ordered <- c
	w.work <- c
}

// compress encodes chunks until the work channel closes or the Writer fails.
func (w *Writer) compress() {
	for {
		select {
		case <-w.quit:
			return
		case c, ok := <-w.work:
			if !ok {
				return
			}
			c.out = w.enc.EncodeAll(c.in, c.out[:0])
			c.done <- struct{}{}
		}
	}
}

// output writes frames in input order and returns their chunks to the free list.
func (w *Writer) output() {
	for c := range w.ordered {
		select {
		case <-c.done:
		case <-w.quit:
			return
		}
		select {
		case <-w.quit: // aborted while the frame was compressed: write nothing more
			return
		default:
		}
		n, err := w.dst.Write(c.out)
		if err == nil && n != len(c.out) {
			err = io.ErrShortWrite
		}
		if err != nil {
			w.fail(fmt.Errorf("write frame: %w", err))
			return
		}
		w.out.Add(int64(n))
		w.frames.Add(1)
		c.in, c.out = c.in[:0], c.out[:0]
		w.free <- c
	}
}
