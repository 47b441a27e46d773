package zstdpar

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// compress runs data through a Writer in writes of step bytes (all at once when step is 0).
func compress(t *testing.T, data []byte, o Options, step int) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	zw, err := NewWriter(&buf, o)
	if err != nil {
		t.Fatalf("NewWriter(%+v) = %v", o, err)
	}
	if step == 0 {
		step = max(len(data), 1)
	}
	for p := data; len(p) > 0; {
		k := min(step, len(p))
		n, err := zw.Write(p[:k])
		if err != nil || n != k {
			t.Fatalf("Write(%d bytes) = %d, %v, want %d, nil", k, n, err, k)
		}
		p = p[k:]
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	return buf.Bytes(), zw.Stats()
}

// decode decompresses a whole stream with klauspost's decoder.
func decode(t *testing.T, z []byte) []byte {
	t.Helper()
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatalf("zstd.NewReader: %v", err)
	}
	defer dec.Close()
	out, err := dec.DecodeAll(z, nil)
	if err != nil {
		t.Fatalf("DecodeAll(%d bytes) = %v", len(z), err)
	}
	return out
}

// sameBytes reports a mismatch by length and first differing offset: the data is too large for
// cmp.Diff to print usefully.
func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s = %d bytes differing from offset %d, want %d bytes", what, len(got), i, len(want))
}

func TestRoundTrip(t *testing.T) {
	const chunk = 1000
	compressible := archiveText(t, 7, 300*chunk+123)
	random := randomBytes(7, 300*chunk+123)
	sizes := []int{0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 300*chunk + 123}
	for _, kind := range []struct {
		name string
		data []byte
	}{{"compressible", compressible}, {"random", random}} {
		for _, threads := range []int{1, 2, 5} {
			for _, size := range sizes {
				for _, step := range []int{0, 1 << 10, 333} {
					name := fmt.Sprintf("%s/threads=%d/size=%d/step=%d", kind.name, threads, size, step)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						data := kind.data[:size]
						z, st := compress(t, data, Options{ChunkSize: chunk, Threads: threads}, step)
						sameBytes(t, "decode(compress(data))", decode(t, z), data)
						frames := max((size+chunk-1)/chunk, 1)
						want := Stats{In: int64(size), Out: int64(len(z)), Frames: int64(frames)}
						if st != want {
							t.Errorf("Stats() = %+v, want %+v", st, want)
						}
					})
				}
			}
		}
	}
}

func TestFrameHeader(t *testing.T) {
	const chunk = 64 << 10
	data := archiveText(t, 3, 3*chunk)
	z, _ := compress(t, data, Options{ChunkSize: chunk, Threads: 2}, 0)
	var h zstd.Header
	if err := h.Decode(z); err != nil {
		t.Fatalf("Header.Decode = %v", err)
	}
	got := [3]any{h.HasFCS, h.FrameContentSize, h.HasCheckSum}
	want := [3]any{true, uint64(chunk), true}
	if got != want {
		t.Errorf("first frame (HasFCS, FrameContentSize, HasCheckSum) = %v, want %v", got, want)
	}
}

func TestEmptyStreamIsOneFrame(t *testing.T) {
	z, st := compress(t, nil, Options{}, 0)
	if len(z) == 0 || st.Frames != 1 {
		t.Fatalf("compress(nil) = %d bytes in %d frames, want one non-empty frame", len(z), st.Frames)
	}
	if got := decode(t, z); len(got) != 0 {
		t.Errorf("decode(compress(nil)) = %d bytes, want 0", len(got))
	}
}

// onlyReader hides a reader's WriterTo, so io.Copy takes the Writer's ReadFrom.
type onlyReader struct{ io.Reader }

func TestReadFrom(t *testing.T) {
	const chunk = 4096
	data := archiveText(t, 5, 20*chunk+7)
	for _, size := range []int{0, 1, chunk, 20*chunk + 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var buf bytes.Buffer
			zw, err := NewWriter(&buf, Options{ChunkSize: chunk, Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(zw, onlyReader{bytes.NewReader(data[:size])})
			if err != nil || n != int64(size) {
				t.Fatalf("io.Copy = %d, %v, want %d, nil", n, err, size)
			}
			if err := zw.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			sameBytes(t, "decode(compress(data))", decode(t, buf.Bytes()), data[:size])
			if want := max((size+chunk-1)/chunk, 1); zw.Stats().Frames != int64(want) {
				t.Errorf("Stats().Frames = %d, want %d", zw.Stats().Frames, want)
			}
		})
	}
}

// TestCLI checks the output against the reference decoder, the one restores will use.
func TestCLI(t *testing.T) {
	bin, err := exec.LookPath("zstd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("zstd CLI: %v", err)
		}
		t.Skipf("zstd CLI: %v", err)
	}
	data := archiveText(t, 11, 5<<20+17)
	cases := []struct {
		name string
		size int
		o    Options
	}{
		{"empty", 0, Options{}},
		{"one byte", 1, Options{}},
		{"small chunks", 50_000, Options{ChunkSize: 1000, Threads: 3}},
		{"defaults", len(data), Options{}},
		{"default level 8MiB chunks", len(data), Options{Level: zstd.SpeedDefault, ChunkSize: 8 << 20}},
		{"better level", 1 << 20, Options{Level: zstd.SpeedBetterCompression, ChunkSize: 300_000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			z, _ := compress(t, data[:tc.size], tc.o, 64<<10)
			path := filepath.Join(t.TempDir(), "archive.zst")
			if err := os.WriteFile(path, z, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "-q", "-t", path).CombinedOutput(); err != nil {
				t.Errorf("zstd -t = %v: %s", err, out)
			}
			var stderr bytes.Buffer
			cmd := exec.Command(bin, "-q", "-dc", path)
			cmd.Stderr = &stderr
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("zstd -dc = %v: %s", err, stderr.Bytes())
			}
			sameBytes(t, "zstd -dc", got, data[:tc.size])
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	cases := []struct {
		name string
		o    Options
	}{
		{"negative chunk", Options{ChunkSize: -1}},
		{"huge chunk", Options{ChunkSize: MaxChunkSize + 1}},
		{"negative threads", Options{Threads: -2}},
		{"unknown level", Options{Level: zstd.EncoderLevel(99)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			zw, err := NewWriter(io.Discard, tc.o)
			if err == nil {
				zw.Close()
				t.Errorf("NewWriter(%+v) = nil error, want one", tc.o)
			}
		})
	}
}

func TestWindowFor(t *testing.T) {
	cases := []struct{ size, want int }{
		{1, zstd.MinWindowSize},
		{1000, zstd.MinWindowSize},
		{1025, 2048},
		{1 << 20, 1 << 20},
		{1<<20 + 1, 2 << 20},
		{MaxChunkSize, maxWindow},
	}
	for _, tc := range cases {
		if got := windowFor(tc.size); got != tc.want {
			t.Errorf("windowFor(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

func TestCloseIdempotentAndWriteAfterClose(t *testing.T) {
	var buf bytes.Buffer
	zw, err := NewWriter(&buf, Options{ChunkSize: 100, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := zw.Close(); err != nil {
			t.Fatalf("Close() #%d = %v, want nil", i+1, err)
		}
	}
	if n, err := zw.Write([]byte("x")); n != 0 || !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %d, %v, want 0, %v", n, err, ErrClosed)
	}
	if _, err := zw.ReadFrom(bytes.NewReader([]byte("x"))); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadFrom after Close = %v, want %v", err, ErrClosed)
	}
	zw.Abort(nil) // after Close: no effect
	if err := zw.Close(); err != nil {
		t.Errorf("Close() after Abort after Close = %v, want nil", err)
	}
	sameBytes(t, "decode", decode(t, buf.Bytes()), []byte("hello"))
}
