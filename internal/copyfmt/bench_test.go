package copyfmt

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchRows returns about 32 MB of COPY text shaped like a typical table: an id, a timestamp,
// a short label, a long text value, and now and then a NULL, a quote, a comma or an escape.
func benchRows() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 32<<20; i++ {
		fmt.Fprintf(&b, "%d\t2024-01-%02d 12:%02d:%02d+00\tkind-%d\t", i, 1+i%28, i%60, i%60, i%17)
		switch i % 10 {
		case 0:
			b.WriteString(`\N`)
		case 1:
			b.WriteString(`a "quoted", value with\ttab and\nnewline and \\ backslash`)
		default:
			fmt.Fprintf(&b, "payload %08x%08x%08x%08x ünïcødé", i, i*7, i*13, i*31)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// BenchmarkWriter converts COPY text in 64 KiB writes, the size archive.TableReader writes.
func BenchmarkWriter(b *testing.B) {
	rows := benchRows()
	cols := []string{"id", "at", "kind", "payload"}
	for _, f := range Formats {
		b.Run(string(f), func(b *testing.B) {
			b.SetBytes(int64(len(rows)))
			for b.Loop() {
				w, err := NewWriter(io.Discard, f, cols)
				if err != nil {
					b.Fatal(err)
				}
				for p := rows; len(p) > 0; p = p[min(len(p), 64<<10):] {
					if _, err := w.Write(p[:min(len(p), 64<<10)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
