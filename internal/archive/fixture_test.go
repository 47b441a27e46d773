package archive

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "regenerate the testdata archives with pg_dump from the test cluster")

// fixtureFiles are archives of fixtureSQL made by pg_dump 15 (TestFixtures -update), committed
// so that tests without a server have real archives to read.
var fixtureFiles = []string{"fixture-z0.dump", "fixture-gzip.dump"}

// seedFiles are archives of seedSQL, made the same way: real archives small enough for the
// fuzzer to mutate and minimize quickly.
var seedFiles = []string{"seed-z0.dump", "seed-gzip.dump"}

// seedSQL is a table with an escaped newline and a large object.
const seedSQL = `CREATE TABLE t (id int, v text);
INSERT INTO t VALUES (1, E'a\nb'), (2, NULL), (3, '');
SELECT lo_from_bytea(0, E'\\x0a0a'::bytea);`

var seedRows = map[string]int64{"public.t": 3}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%v (regenerate with go test -run TestFixtures -update)", err)
	}
	return b
}

// TestFixtures reads the committed archives, needing no server. With -update it first
// rewrites them from a fresh dump of fixtureSQL.
func TestFixtures(t *testing.T) {
	sets := []struct {
		sql   string
		files []string
		rows  map[string]int64
	}{
		{fixtureSQL, fixtureFiles, fixtureRows},
		{seedSQL, seedFiles, seedRows},
	}
	if *update {
		for _, set := range sets {
			c, db := newDB(t, set.sql)
			for i, mode := range dumpModes {
				path := filepath.Join("testdata", set.files[i])
				if err := os.WriteFile(path, pgDump(t, c, db, mode.args...), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, set := range sets {
		for i, name := range set.files {
			t.Run(name, func(t *testing.T) {
				testFixture(t, name, dumpModes[i].name, set.rows)
			})
		}
	}
}

func testFixture(t *testing.T, name, mode string, rows map[string]int64) {
	archive := readFixture(t, name)
	compression := map[string]string{"Z0": "none", "gzip": "gzip"}[mode]
	got, err := count(archive)
	if err != nil {
		t.Fatalf("Result() error = %v", err)
	}
	if diff := cmp.Diff(rows, got); diff != "" {
		t.Errorf("Result() mismatch (-want +got):\n%s", diff)
	}
	h, entries, err := ReadTOC(bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("ReadTOC() error = %v", err)
	}
	if h.Version != "1.14" || h.Compression != compression {
		t.Errorf("ReadTOC() header = %+v, want version 1.14, compression %s", h, compression)
	}
	var tables int
	for _, e := range entries {
		if e.Desc == "TABLE DATA" {
			tables++
		}
	}
	if tables != len(rows) {
		t.Errorf("ReadTOC() has %d TABLE DATA entries, want %d", tables, len(rows))
	}
}
