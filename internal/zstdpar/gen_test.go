package zstdpar

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// archiveText returns size bytes shaped like the data section of an uncompressed pg_dump
// custom-format archive: COPY text rows (integers, timestamps, short words, numerics, NULLs and
// jsonb-looking text), each preceded by the archive's 5-byte length word, as pg_dump -Z0 writes
// one data chunk per row. zstd -1 compresses it about 5x, far from the trivial repeats that
// would flatter an encoder.
func archiveText(tb testing.TB, seed uint64, size int) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	words := make([]string, 600)
	syllables := []string{"ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "va", "ze", "dor", "len",
		"mar", "qui", "ston", "bel", "gru", "fin", "hal", "wex"}
	for i := range words {
		var w []byte
		for range 2 + rng.IntN(3) {
			w = append(w, syllables[rng.IntN(len(syllables))]...)
		}
		words[i] = string(w)
	}
	// Zipf-like choice: a few words are common, most are rare, as in real text columns.
	zipf := rand.NewZipf(rng, 1.1, 4, uint64(len(words)-1))
	word := func() string { return words[zipf.Uint64()] }
	customer := rand.NewZipf(rng, 1.05, 16, 200_000)
	kinds := []string{"order", "refund", "signup", "login", "payment", "shipment", "review"}
	ts := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

	out := make([]byte, 0, size+1024)
	row := make([]byte, 0, 512)
	for id := int64(1); len(out) < size; id++ {
		ts = ts.Add(time.Duration(rng.IntN(90_000)) * time.Millisecond)
		row = row[:0]
		row = strconv.AppendInt(row, id, 10)
		row = append(row, '\t')
		row = strconv.AppendUint(row, 1000+customer.Uint64(), 10)
		row = append(row, '\t')
		row = ts.AppendFormat(row, "2006-01-02 15:04:05.000000-07")
		row = append(row, '\t')
		row = append(row, word()...)
		row = append(row, ' ')
		row = append(row, word()...)
		row = append(row, '\t')
		if rng.IntN(10) == 0 {
			row = append(row, `\N`...)
		} else {
			row = fmt.Appendf(row, "%d.%02d", rng.IntN(5000), rng.IntN(100))
		}
		row = append(row, '\t')
		row = fmt.Appendf(row, `{"kind": %q, "user": %d, "tags": [%q, %q], "score": %d, "active": %t}`,
			kinds[rng.IntN(len(kinds))], customer.Uint64(), word(), word(), rng.IntN(100)*10,
			rng.IntN(3) > 0)
		row = append(row, '\n')

		var hdr [5]byte // sign byte, then the length little-endian, as pg_dump's WriteInt
		binary.LittleEndian.PutUint32(hdr[1:], uint32(len(row)))
		out = append(out, hdr[:]...)
		out = append(out, row...)
	}
	return out[:size]
}

// hexText returns size bytes of random lowercase hex in 64-character lines: text that zstd
// reduces only by its entropy coding (about 1.7x), the worst case for a bytea-heavy database.
func hexText(tb testing.TB, seed uint64, size int) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	raw := make([]byte, 32)
	out := make([]byte, 0, size+65)
	for len(out) < size {
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		out = hex.AppendEncode(out, raw)
		out = append(out, '\n')
	}
	return out[:size]
}

// randomBytes returns size incompressible bytes.
func randomBytes(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+2))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
