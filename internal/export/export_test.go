package export_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/export"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// An export of a zstd snapshot reads the archive to its end, and checks the stored bytes, only
// when that at most doubles its work: a small table before a large one stops early and says so;
// the large one, whose end is near the archive's, is checked. An uncompressed snapshot's bytes
// carry no checksum of their own: they are always checked. Every export matches COPY's CSV.
func TestExportStopsEarlyOnlyWhenTheRestIsLarge(t *testing.T) {
	export.SetVerifyFloor(t, 0)
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, `CREATE TABLE aa_small (id int, v text);
		INSERT INTO aa_small SELECT g, 'v' || g FROM generate_series(1, 50) g;
		CREATE TABLE zz_large AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 100000) g`); err != nil {
		t.Fatal(err)
	}
	for _, compression := range []string{"zstd", "none"} {
		t.Run(compression, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := pgsnap.DefaultConfig()
			cfg.DatabaseURL = pgsnap.ConnString(c.URL(db))
			cfg.Dir = filepath.Join(t.TempDir(), "snapshots")
			cfg.Timeout = time.Minute
			cfg.Compression = compression
			s, err := pgsnap.New(cfg, pgsnap.WithLogger(slog.New(slog.NewTextHandler(io.MultiWriter(&logs, testLog{t}), nil))))
			if err != nil {
				t.Fatal(err)
			}
			snap, err := s.SnapshotNow(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				table    string
				verified bool
			}{{"aa_small", compression == "none"}, {"zz_large", true}} {
				logs.Reset()
				var got bytes.Buffer
				res, err := s.Export(t.Context(), snap.Name, tc.table, "csv", &got)
				if err != nil {
					t.Fatal(err)
				}
				if want := copyTo(t, c, db, "COPY "+tc.table+" TO STDOUT WITH (FORMAT csv, HEADER true)"); got.String() != want {
					t.Errorf("export of %s differs from COPY's CSV", tc.table)
				}
				said := strings.Contains(logs.String(), "not checked against the manifest")
				if res.Verified != tc.verified || said == tc.verified {
					t.Errorf("export of %s: verified %t, logged %t; want verified %t, and a log line when not", tc.table, res.Verified, said, tc.verified)
				}
			}
		})
	}
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func copyTo(t *testing.T, c *pgtest.Cluster, db, sql string) string {
	t.Helper()
	conn, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var b bytes.Buffer
	if _, err := conn.PgConn().CopyTo(t.Context(), &b, sql); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
