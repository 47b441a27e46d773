package zstdpar

import (
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// allocated streams size bytes through a Writer in pipe-sized writes and returns the bytes the
// whole run allocated, the Writer's setup included.
func allocated(t *testing.T, src []byte, size int, o Options) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	zw, err := NewWriter(io.Discard, o)
	if err != nil {
		t.Fatal(err)
	}
	const step = 64 << 10 // what one read from pg_dump's pipe returns at most
	for off := 0; off < size; off += step {
		i := off % (len(src) - step)
		if _, err := zw.Write(src[i : i+step]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestMemoryFlat checks that memory is bounded by the chunks in flight and the encoders' state,
// whatever the input size: the allocations for 256 MiB are those for 64 MiB, and both stay
// under a budget computed from the options.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 256 MiB")
	}
	// Mostly zeros with incompressible stretches: every chunk has some of each, so output
	// buffers see both extremes, and the encoder runs through it quickly enough for 320 MiB
	// per case to pass under the race detector in seconds.
	src := make([]byte, 8<<20)
	for off := 0; off < len(src); off += 1 << 20 {
		copy(src[off:], randomBytes(uint64(off), 64<<10))
	}
	for _, o := range []Options{
		{ChunkSize: 1 << 20, Threads: 2, Level: zstd.SpeedFastest},
		{ChunkSize: 4 << 20, Threads: 2, Level: zstd.SpeedDefault},
	} {
		t.Run(fmt.Sprintf("chunk=%d/threads=%d/level=%v", o.ChunkSize, o.Threads, o.Level), func(t *testing.T) {
			small := allocated(t, src, 64<<20, o)
			large := allocated(t, src, 256<<20, o)
			// Per chunk: input and output buffers. Per encoder: history of twice the window
			// plus hash tables and block scratch, well under 4 MiB at these levels.
			chunks := uint64(o.Threads+2) * uint64(2*o.ChunkSize+1<<10)
			encoders := uint64(o.Threads) * (2*uint64(windowFor(o.ChunkSize)) + 4<<20)
			budget := chunks + encoders
			t.Logf("allocated: %d KiB for 64 MiB, %d KiB for 256 MiB; budget %d KiB", small>>10, large>>10, budget>>10)
			if large > budget {
				t.Errorf("allocated for 256 MiB = %d bytes, want at most %d (chunks %d + encoders %d)", large, budget, chunks, encoders)
			}
			// Both runs fill all Threads+2 chunks, so beyond the runtime's own noise they
			// allocate the same.
			const noise = 256 << 10
			if large > small+noise {
				t.Errorf("allocated for 256 MiB = %d bytes, want at most %d (64 MiB took %d)", large, small+noise, small)
			}
		})
	}
}
