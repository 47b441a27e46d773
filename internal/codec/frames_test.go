package codec

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func zstdStream(t *testing.T, data []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var b bytes.Buffer
	enc, err := zstd.NewWriter(&b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(data)
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func feed(c *FrameChecker, b []byte, rng *rand.Rand) error {
	for len(b) > 0 {
		n := min(len(b), 1+rng.IntN(70000))
		c.Write(b[:n])
		b = b[n:]
	}
	return c.Close()
}

func TestFrameCheckerAcceptsWholeStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(rng.IntN(16)) // compressible, several blocks
	}
	skippable := []byte{0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'}
	streams := map[string][]byte{
		"default":         zstdStream(t, data),
		"no checksum":     zstdStream(t, data, zstd.WithEncoderCRC(false)),
		"fastest":         zstdStream(t, data, zstd.WithEncoderLevel(zstd.SpeedFastest)),
		"two frames":      append(zstdStream(t, data[:1000]), zstdStream(t, data[1000:])...),
		"skippable frame": append(append([]byte{}, skippable...), zstdStream(t, data[:5000])...),
	}
	for name, s := range streams {
		if err := feed(NewFrameChecker(), s, rng); err != nil {
			t.Errorf("%s: frameChecker = %v, want nil", name, err)
		}
	}
}

func TestFrameCheckerRejectsCutAndForeignStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rng.IntN(16))
	}
	s := zstdStream(t, data)
	for _, cut := range []int{1, 3, 4, 5, 10, len(s) / 3, len(s) / 2, len(s) - 5, len(s) - 1} {
		if err := feed(NewFrameChecker(), s[:cut], rng); err == nil {
			t.Errorf("stream cut at %d of %d: frameChecker = nil, want an error", cut, len(s))
		}
	}
	bad := map[string][]byte{
		"empty":          nil,
		"not zstd":       []byte("PGDMP\x01\x0e\x00"),
		"trailing bytes": append(append([]byte{}, s...), 0x00, 0x01),
		"gzip":           {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0},
	}
	for name, b := range bad {
		if err := feed(NewFrameChecker(), b, rng); err == nil {
			t.Errorf("%s: frameChecker = nil, want an error", name)
		}
	}
}

func FuzzFrameChecker(f *testing.F) {
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x00, 0x01, 0x00, 0x00, 0x99, 0xe9, 0xd8, 0x51})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := NewFrameChecker()
		c.Write(b)
		c.Close() // never panics; any answer is fine for arbitrary input
	})
}
