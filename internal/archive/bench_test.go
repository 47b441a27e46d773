package archive

import (
	"bytes"
	"testing"
)

// benchSQL makes a table whose -Z0 archive is about 50 MB: 470k rows of about 107 bytes.
const benchSQL = `
CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL, kind text, payload text);
INSERT INTO events SELECT g, timestamptz '2024-01-01' + g * interval '1 second', 'kind-' || g % 17,
	md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 470000) g;
`

// BenchmarkCounterWrite measures Counter.Write over a -Z0 archive fed in 64 KiB writes, the
// size of a pipe's reads.
func BenchmarkCounterWrite(b *testing.B) {
	c, db := newDB(b, benchSQL)
	archive := pgDump(b, c, db, "-Z0")
	const write = 64 << 10
	b.SetBytes(int64(len(archive)))
	for b.Loop() {
		counts, err := count(archive, write)
		if err != nil || counts["public.events"] != 470_000 {
			b.Fatalf("Result() = %v, %v; want 470000 rows of public.events", counts, err)
		}
	}
	b.ReportMetric(float64(len(archive))/1e6, "archive-MB")
}

// BenchmarkCounterOffsets measures what filling in the data offsets costs: the Counter's pass
// over a -Z0 archive in 64 KiB writes, which records the offsets as it counts, then Offsets and
// Patch into the archive in memory. Compare with BenchmarkCounterWrite (the pass alone) for the
// cost of the recording.
func BenchmarkCounterOffsets(b *testing.B) {
	c, db := newDB(b, benchSQL)
	archive := pgDump(b, c, db, "-Z0")
	const write = 64 << 10
	f := &memFile{b: bytes.Clone(archive)}
	b.SetBytes(int64(len(archive)))
	for b.Loop() {
		cnt := NewCounter()
		for p := archive; len(p) > 0; p = p[min(len(p), write):] {
			cnt.Write(p[:min(len(p), write)])
		}
		x, err := cnt.Offsets()
		if err != nil || x.Len() != 1 {
			b.Fatalf("Offsets() = %v, %v; want one entry with data", x, err)
		}
		if err := x.Patch(f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(archive))/1e6, "archive-MB")
}
