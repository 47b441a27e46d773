package archive

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// dumpModes are the pg_dump compression settings of the tests: -Z0 as pgsnap dumps, and the
// default (gzip) of older snapshots.
var dumpModes = []struct {
	name string
	args []string
}{
	{"Z0", []string{"-Z0"}},
	{"gzip", nil},
}

// TestCounterMatchesCountStar checks the counts against the server's, over every table shape
// of the fixture and a table of 100k rows, whatever the Write sizes. That the counts equal
// count(*) also shows how pg_dump ends each table's COPY text (with "\." and two empty lines).
func TestCounterMatchesCountStar(t *testing.T) {
	c, db := newDB(t, fixtureSQL+bigSQL)
	want := countRows(t, c, db)
	if want["public.big"] != bigRows {
		t.Fatalf("fixture: public.big has %d rows, want %d", want["public.big"], bigRows)
	}
	for _, mode := range dumpModes {
		archive := pgDump(t, c, db, mode.args...)
		t.Run(mode.name, func(t *testing.T) {
			type writes struct {
				name  string
				sizes []int
			}
			cases := []writes{
				{"whole", nil},
				{"1MiB", []int{1 << 20}},
				{"odd sizes", []int{1, 2, 3, 5, 7, 11, 4093}},
			}
			for seed := range uint64(3) {
				rng := rand.New(rand.NewPCG(seed, 42))
				sizes := make([]int, 500)
				for i := range sizes {
					sizes[i] = 1 + rng.IntN(100_000)
				}
				cases = append(cases, writes{fmt.Sprint("random sizes seed ", seed), sizes})
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					got, err := count(archive, tc.sizes...)
					if err != nil {
						t.Fatalf("Result() error = %v", err)
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("Result() mismatch with count(*) (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// TestCounterByteByByte feeds a small archive one byte per Write.
func TestCounterByteByByte(t *testing.T) {
	c, db := newDB(t, fixtureSQL)
	want := countRows(t, c, db)
	if diff := cmp.Diff(fixtureRows, want); diff != "" {
		t.Fatalf("fixture row counts (-fixtureRows +count(*)):\n%s", diff)
	}
	for _, mode := range dumpModes {
		t.Run(mode.name, func(t *testing.T) {
			got, err := count(pgDump(t, c, db, mode.args...), 1)
			if err != nil {
				t.Fatalf("Result() error = %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Result() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCounterTruncated cuts archives at every byte: the header, each TOC entry, chunk
// lengths, chunk data, compressed streams, large objects and exactly between data blocks.
// Every cut must be an error, never a panic or a count.
func TestCounterTruncated(t *testing.T) {
	for _, name := range fixtureFiles {
		archive := readFixture(t, name)
		t.Run(name, func(t *testing.T) {
			for cut := range len(archive) {
				got, err := count(archive[:cut], 1+cut%4096)
				want := ErrTruncated
				if cut == 0 {
					want = ErrNotArchive
				}
				if !errors.Is(err, want) {
					t.Fatalf("cut at %d of %d: Result() = %v, %v; want error %v", cut, len(archive), got, err, want)
				}
			}
		})
	}
}

// TestCounterNotArchive feeds streams that are not custom-format archives, from pg_dump's
// other formats to noise.
func TestCounterNotArchive(t *testing.T) {
	c, db := newDB(t, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);")
	dir := filepath.Join(t.TempDir(), "dir")
	pgDump(t, c, db, "-Fd", "-f", dir)
	tocDat, err := os.ReadFile(filepath.Join(dir, "toc.dat"))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 10_000)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty", nil, ErrNotArchive},
		{"text", []byte("hello, world\n"), ErrNotArchive},
		{"plain SQL dump", pgDump(t, c, db, "-Fp"), ErrNotArchive},
		{"tar dump", pgDump(t, c, db, "-Ft"), ErrNotArchive},
		{"noise", noise, ErrNotArchive},
		{"directory dump toc.dat", tocDat, ErrUnsupported},
		{"magic only", []byte("PGDMP"), ErrTruncated},
		{"magic prefix", []byte("PGD"), ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{1, 4096} {
				if got, err := count(tc.input, size); !errors.Is(err, tc.want) {
					t.Errorf("Result() after writes of %d = %v, %v; want error %v", size, got, err, tc.want)
				}
			}
			if _, _, err := ReadTOC(strings.NewReader(string(tc.input))); !errors.Is(err, tc.want) {
				t.Errorf("ReadTOC() error = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestCounterInserts: data dumped as INSERT statements has no line per row, so it is not
// counted.
func TestCounterInserts(t *testing.T) {
	c, db := newDB(t, fixtureSQL)
	archive := pgDump(t, c, db, "-Z0", "--inserts")
	got, err := count(archive)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "not COPY text") {
		t.Errorf("Result() = %v, %v; want ErrUnsupported saying the data is not COPY text", got, err)
	}
	if _, _, err := ReadTOC(strings.NewReader(string(archive))); err != nil {
		t.Errorf("ReadTOC() error = %v", err)
	}
}

// TestCounterLifecycle covers the zero value, Writes after Result and repeated Results.
func TestCounterLifecycle(t *testing.T) {
	archive := readFixture(t, fixtureFiles[0])
	var c Counter
	if n, err := c.Write(archive); n != len(archive) || err != nil {
		t.Fatalf("Write() = %d, %v; want %d, nil", n, err, len(archive))
	}
	got, err := c.Result()
	if err != nil {
		t.Fatalf("Result() error = %v", err)
	}
	got["public.accounts"] = -1 // the map is the caller's
	if n, err := c.Write([]byte("trailing bytes after Result")); n != 27 || err != nil {
		t.Fatalf("Write() after Result = %d, %v", n, err)
	}
	again, err := c.Result()
	if err != nil {
		t.Fatalf("second Result() error = %v", err)
	}
	if diff := cmp.Diff(fixtureRows, again); diff != "" {
		t.Errorf("second Result() mismatch (-want +got):\n%s", diff)
	}

	bad := NewCounter()
	bad.Write([]byte("not an archive"))
	if n, err := bad.Write(archive); n != len(archive) || err != nil {
		t.Errorf("Write() after a parse error = %d, %v; want %d, nil", n, err, len(archive))
	}
	if _, err := bad.Result(); !errors.Is(err, ErrNotArchive) {
		t.Errorf("Result() error = %v, want ErrNotArchive", err)
	}
}

// TestCounterReleasesDecompressor checks that a gzip block's decompressor coroutine ends when
// Result is called mid-block, and when a Counter is dropped mid-block without Result.
func TestCounterReleasesDecompressor(t *testing.T) {
	archive := readFixture(t, "fixture-gzip.dump")
	// midBlock feeds archive to c until its decompressor is running.
	midBlock := func(c *Counter) {
		for i := range archive {
			c.Write(archive[i : i+1])
			if c.inf != nil {
				return
			}
		}
		t.Fatal("no decompressor ran over the whole archive")
	}

	c := NewCounter()
	midBlock(c)
	if n := decompressors(); n != 1 {
		t.Fatalf("mid-block: %d decompressor goroutines, want 1", n)
	}
	if _, err := c.Result(); !errors.Is(err, ErrTruncated) {
		t.Errorf("Result() mid-block error = %v, want ErrTruncated", err)
	}
	if n := decompressors(); n != 0 {
		t.Errorf("after Result: %d decompressor goroutines, want 0", n)
	}

	func() { midBlock(NewCounter()) }() // dropped without Result
	deadline := time.Now().Add(10 * time.Second)
	for decompressors() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("dropped Counter: %d decompressor goroutines after 10s, want 0", decompressors())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// decompressors counts the goroutines running an inflater's coroutine.
func decompressors() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "archive.(*inflater).run(")
		}
		buf = make([]byte, 2*len(buf))
	}
}
