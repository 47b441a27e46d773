package archive

import (
	"context"
	"flag"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

var (
	restoreTimings = flag.Bool("restore-timings", false, "run TestRestoreTimings: pg_restore -j 2 of a ~100 MB archive, patched and unpatched (about a minute)")
	timingTables   = flag.Int("restore-timings-tables", 8, "TestRestoreTimings: the number of tables the ~100 MB are spread over")
)

// timingSQL makes tables of about 720k rows of about 135 bytes in all: a -Z0 archive of about
// 100 MB.
const timingSQL = `
DO $$
BEGIN
	FOR i IN 1..%[1]d LOOP
		EXECUTE format('CREATE TABLE t%%s (id bigint PRIMARY KEY, at timestamptz, kind text, payload text)', i);
		EXECUTE format($q$INSERT INTO t%%s SELECT g, timestamptz '2024-01-01' + g * interval '1 second',
			'kind-' || g %%%% 17, md5(g::text) || md5((g * 7)::text) || md5((g * %%s)::text)
			FROM generate_series(1, %[2]d) g$q$, i, i + 1);
	END LOOP;
END $$;
`

// TestRestoreTimings reports, without asserting, the wall and CPU time of pg_restore -j 2 (the
// client and its workers; the server's work is the same for both) of an archive piped from
// pg_dump, before and after Patch. Run it with
//
//	go test -run TestRestoreTimings -v ./internal/archive/ -args -restore-timings [-restore-timings-tables 8]
func TestRestoreTimings(t *testing.T) {
	if !*restoreTimings {
		t.Skip("run with -restore-timings")
	}
	c, db := newDB(t, fmt.Sprintf(timingSQL, *timingTables, 720_000 / *timingTables))
	archive := pgDump(t, c, db, "-Z0")
	plain := writeFile(t, "plain.dump", archive)
	patched, _ := patchFile(t, archive, record(t, archive, 64<<10))
	t.Logf("archive: %.1f MB, %d entries with data", float64(len(archive))/1e6, dataEntries(t, archive))
	for round := 1; round <= 2; round++ {
		for _, file := range []struct{ name, path string }{{"unpatched", plain}, {"patched", patched}} {
			target := c.CreateDB(t)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
			cmd := exec.CommandContext(ctx, binary(t, c, "pg_restore"), "--exit-on-error", "-j", "2", "-d", target, file.path)
			cmd.Env = pgEnv(t, c, target)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			wall := time.Since(start)
			cancel()
			if err != nil {
				t.Fatalf("pg_restore: %v: %s", err, out)
			}
			st := cmd.ProcessState
			t.Logf("round %d %-9s pg_restore -j 2: wall %6.2fs  cpu user %6.2fs sys %6.2fs%s", round, file.name,
				wall.Seconds(), st.UserTime().Seconds(), st.SystemTime().Seconds(), warn(out))
		}
	}
}

// warn returns pg_restore's output when it says something.
func warn(out []byte) string {
	if s := strings.TrimSpace(string(out)); s != "" {
		return fmt.Sprintf("  (pg_restore said %q)", s)
	}
	return ""
}
