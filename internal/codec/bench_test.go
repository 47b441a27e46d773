package codec

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/pgsnap/pgsnap/internal/zstdpar"
)

// benchArchive is COPY-like text: rows of ids, timestamps, words and hex, compressing about
// 4-6x, like the data blocks of a pg_dump -Z0 archive.
func benchArchive(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "beta", "gamma", "delta", "order", "paid", "shipped", "customer", "berlin", "tokyo"}
	b := make([]byte, 0, n+256)
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "%d\t2026-11-%02d 03:%02d:%02d+00\t%s %s\t%016x\t{\"n\": %d, \"w\": \"%s\"}\n",
			i, 1+rng.IntN(28), rng.IntN(60), rng.IntN(60), words[rng.IntN(len(words))], words[rng.IntN(len(words))],
			rng.Uint64(), rng.IntN(1000), words[rng.IntN(len(words))])
	}
	return b[:n]
}

// Each stage of the snapshot pipeline on its own and together, per byte of archive: compression
// (parallel frames), age encryption, SHA-256, and the encoder as the writer builds it.
func BenchmarkPipelineStages(b *testing.B) {
	archive := benchArchive(32 << 20)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	stages := []struct {
		name string
		spec Spec
	}{
		{"zstd-fastest", Spec{Kind: Zstd, Level: zstd.SpeedFastest}},
		{"zstd-default", Spec{Kind: Zstd, Level: zstd.SpeedDefault}},
		{"none+age", Spec{Kind: None, Recipients: []age.Recipient{id.Recipient()}}},
		{"zstd-fastest+age", Spec{Kind: Zstd, Level: zstd.SpeedFastest, Recipients: []age.Recipient{id.Recipient()}}},
	}
	for _, st := range stages {
		b.Run(st.name, func(b *testing.B) {
			st.spec.Threads, st.spec.ChunkSize = runtime.GOMAXPROCS(0), zstdpar.DefaultChunkSize
			b.SetBytes(int64(len(archive)))
			var out int64
			for b.Loop() {
				cw := &CountingWriter{W: io.Discard}
				e, err := NewEncoder(cw, st.spec)
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < len(archive); off += 1 << 20 {
					e.Write(archive[off:min(off+1<<20, len(archive))])
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
				out = cw.N
			}
			b.ReportMetric(float64(len(archive))/float64(out), "ratio")
		})
	}
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(int64(len(archive)))
		for b.Loop() {
			sha256.Sum256(archive)
		}
	})
}
