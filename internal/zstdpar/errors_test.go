package zstdpar

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// deadline bounds waits for things that must happen; reaching it means a hang, not slowness.
const deadline = 30 * time.Second

var errDisk = errors.New("disk full")

// failingWriter accepts limit bytes and then fails every write. It is a fake because a store
// that fails after an exact byte count cannot be made real on one machine.
type failingWriter struct {
	limit, n int
	short    bool // fail by writing less without an error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n+len(p) <= f.limit {
		f.n += len(p)
		return len(p), nil
	}
	k := f.limit - f.n
	f.n = f.limit
	if f.short {
		return k, nil
	}
	return k, errDisk
}

// waitErr waits for a result from a goroutine; running into the deadline means a hang.
func waitErr(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(deadline):
		t.Fatalf("%s has not returned after %v", what, deadline)
		return nil
	}
}

func TestDownstreamError(t *testing.T) {
	const chunk = 4096
	data := archiveText(t, 9, 200*chunk)
	cases := []struct {
		limit int
		short bool
		want  error
	}{
		{0, false, errDisk},
		{100, false, errDisk},
		{5000, false, errDisk},
		{30_000, false, errDisk},
		{30_000, true, io.ErrShortWrite},
	}
	for _, tc := range cases {
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("limit=%d/short=%t/threads=%d", tc.limit, tc.short, threads), func(t *testing.T) {
				defer goleak.VerifyNone(t)
				zw, err := NewWriter(&failingWriter{limit: tc.limit, short: tc.short}, Options{ChunkSize: chunk, Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				var werr error
				for p := data; len(p) > 0 && werr == nil; p = p[min(1000, len(p)):] {
					_, werr = zw.Write(p[:min(1000, len(p))])
				}
				if werr == nil {
					t.Errorf("Write of %d bytes into a writer failing after %d = nil error, want %v", len(data), tc.limit, tc.want)
				} else if !errors.Is(werr, tc.want) {
					t.Errorf("Write() = %v, want %v", werr, tc.want)
				}
				if _, err := zw.Write([]byte("more")); !errors.Is(err, tc.want) {
					t.Errorf("Write after error = %v, want %v", err, tc.want)
				}
				if err := zw.Close(); !errors.Is(err, tc.want) {
					t.Errorf("Close() = %v, want %v", err, tc.want)
				}
				if err := zw.Close(); !errors.Is(err, tc.want) {
					t.Errorf("second Close() = %v, want %v", err, tc.want)
				}
			})
		}
	}
}

// TestDownstreamErrorAtClose: the only failing write is the last frame's, flushed by Close.
func TestDownstreamErrorAtClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	zw, err := NewWriter(&failingWriter{limit: 0}, Options{ChunkSize: 1 << 20, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write([]byte("short")); err != nil {
		t.Fatalf("Write() = %v, want nil (nothing is written before Close)", err)
	}
	if err := zw.Close(); !errors.Is(err, errDisk) {
		t.Errorf("Close() = %v, want %v", err, errDisk)
	}
}

// blockedPipe starts a producer writing data into a Writer whose output goes into a pipe that
// nobody reads, and returns once the producer is stuck: every chunk is in flight and the output
// goroutine is blocked in the pipe.
func blockedPipe(t *testing.T, o Options) (*Writer, *io.PipeReader, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	zw, err := NewWriter(pw, o)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(4, 1<<20)
	produced := make(chan error, 1)
	go func() {
		for {
			if _, err := zw.Write(data); err != nil {
				produced <- err
				return
			}
		}
	}()
	// The producer can fill one chunk per compressor, one for the output goroutine and one of
	// its own before it must wait for the pipe.
	inFlight := int64(o.Threads+1) * int64(o.ChunkSize)
	for stop := time.Now().Add(deadline); zw.Stats().In < inFlight; time.Sleep(time.Millisecond) {
		if time.Now().After(stop) {
			t.Fatalf("Stats().In = %d after %v, want at least %d", zw.Stats().In, deadline, inFlight)
		}
	}
	return zw, pr, produced
}

func TestAbortWithBlockedDownstream(t *testing.T) {
	defer goleak.VerifyNone(t)
	o := Options{ChunkSize: 64 << 10, Threads: 2}
	zw, pr, produced := blockedPipe(t, o)
	errStop := errors.New("snapshot cancelled")
	zw.Abort(errStop)
	if err := waitErr(t, "Write blocked on a stuck downstream, after Abort,", produced); !errors.Is(err, errStop) {
		t.Errorf("Write after Abort = %v, want %v", err, errStop)
	}
	// Close waits for the output goroutine, which is inside the pipe's Write until the store
	// side gives up, as an aborted upload does.
	closed := make(chan error, 1)
	go func() { closed <- zw.Close() }()
	pr.CloseWithError(errors.New("upload aborted"))
	if err := waitErr(t, "Close after Abort", closed); !errors.Is(err, errStop) {
		t.Errorf("Close() = %v, want %v", err, errStop)
	}
	if s := zw.Stats(); s.Frames != 0 {
		t.Errorf("Stats().Frames = %d, want 0 (the pipe took no frame)", s.Frames)
	}
}

func TestDownstreamFailsWhileWriteBlocked(t *testing.T) {
	defer goleak.VerifyNone(t)
	zw, pr, produced := blockedPipe(t, Options{ChunkSize: 64 << 10, Threads: 3})
	pr.CloseWithError(errDisk)
	if err := waitErr(t, "Write blocked on a downstream that then failed", produced); !errors.Is(err, errDisk) {
		t.Errorf("Write() = %v, want %v", err, errDisk)
	}
	if err := zw.Close(); !errors.Is(err, errDisk) {
		t.Errorf("Close() = %v, want %v", err, errDisk)
	}
}

func TestAbortIdle(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"nil", nil, ErrAborted},
		{"cause", errDisk, errDisk},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			var out failingWriter
			out.limit = 1 << 30
			zw, err := NewWriter(&out, Options{ChunkSize: 1000, Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := zw.Write(make([]byte, 500)); err != nil {
				t.Fatal(err)
			}
			zw.Abort(tc.err)
			zw.Abort(errors.New("second abort is ignored"))
			if _, err := zw.Write([]byte("x")); !errors.Is(err, tc.want) {
				t.Errorf("Write after Abort(%v) = %v, want %v", tc.err, err, tc.want)
			}
			if err := zw.Close(); !errors.Is(err, tc.want) {
				t.Errorf("Close after Abort(%v) = %v, want %v", tc.err, err, tc.want)
			}
			if out.n != 0 {
				t.Errorf("bytes written after Abort before any full chunk = %d, want 0", out.n)
			}
		})
	}
}

// TestAbortRacesWrite runs Abort from another goroutine while data streams, as
// context.AfterFunc would; the race detector checks the hand-off.
func TestAbortRacesWrite(t *testing.T) {
	defer goleak.VerifyNone(t)
	zw, err := NewWriter(io.Discard, Options{ChunkSize: 2048, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	data := archiveText(t, 2, 1<<20)
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := zw.Write(data); err != nil {
				done <- err
				return
			}
		}
	}()
	for stop := time.Now().Add(deadline); zw.Stats().Frames < 10; time.Sleep(time.Millisecond) {
		if time.Now().After(stop) {
			t.Fatalf("Stats().Frames = %d after %v, want 10", zw.Stats().Frames, deadline)
		}
	}
	zw.Abort(nil)
	if err := waitErr(t, "Write after Abort", done); !errors.Is(err, ErrAborted) {
		t.Errorf("Write after Abort = %v, want %v", err, ErrAborted)
	}
	if err := zw.Close(); !errors.Is(err, ErrAborted) {
		t.Errorf("Close() = %v, want %v", err, ErrAborted)
	}
}
