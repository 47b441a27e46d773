//go:build unix

package zstdpar

import (
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// countingWriter counts what the compressed stream would cost the encryption and store stages.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchStream compresses data with the writer mk returns, in writes of one pipe read each, and
// reports input MB/s, the compression ratio and input MB per CPU-second. The last is what a
// shared machine can still measure: wall time there depends on the neighbours.
func benchStream(b *testing.B, data []byte, mk func(io.Writer) (io.WriteCloser, error)) {
	const step = 64 << 10
	var out countingWriter
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var cpu time.Duration
	iters := 0
	for b.Loop() {
		iters++
		c0 := cpuTime(b)
		out.n = 0
		zw, err := mk(&out)
		if err != nil {
			b.Fatal(err)
		}
		for p := data; len(p) > 0; {
			k := min(step, len(p))
			if _, err := zw.Write(p[:k]); err != nil {
				b.Fatal(err)
			}
			p = p[k:]
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime(b) - c0
	}
	b.ReportMetric(float64(len(data))/float64(out.n), "ratio")
	b.ReportMetric(float64(iters)*float64(len(data))/1e6/cpu.Seconds(), "MB/cpu-s")
}

// BenchmarkWriter measures frames across chunk sizes, levels and threads against klauspost's
// single-frame stream encoder at the same level with concurrency 2, plain and with its
// parallel-block mode, on archive-like COPY text and on random hex text. The inputs are made
// once: they are the largest cost of the run.
func BenchmarkWriter(b *testing.B) {
	const size = 64 << 20
	inputs := []struct {
		name string
		data []byte
	}{
		{"archive", archiveText(b, 1, size)},
		{"hex", hexText(b, 1, size)},
	}
	for _, in := range inputs {
		for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
			for _, threads := range []int{1, 2} {
				for _, chunk := range []int{512 << 10, 1 << 20, 4 << 20, 8 << 20} {
					name := fmt.Sprintf("%s/%v/frames/threads=%d/chunk=%dKiB", in.name, level, threads, chunk>>10)
					b.Run(name, func(b *testing.B) {
						benchStream(b, in.data, func(w io.Writer) (io.WriteCloser, error) {
							return NewWriter(w, Options{Level: level, ChunkSize: chunk, Threads: threads})
						})
					})
				}
			}
			for _, blocks := range []bool{false, true} {
				mode := "stream"
				if blocks {
					mode = "stream-blocks"
				}
				b.Run(fmt.Sprintf("%s/%v/%s/concurrency=2", in.name, level, mode), func(b *testing.B) {
					benchStream(b, in.data, func(w io.Writer) (io.WriteCloser, error) {
						return zstd.NewWriter(w, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(2),
							zstd.WithConcurrentBlocks(blocks))
					})
				})
			}
		}
	}
}
