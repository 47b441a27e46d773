package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// procStatusKiB reads one "Name:   123 kB" field of /proc/<pid>/status, in KiB.
func procStatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// peakRun is what runPeak measured of one pgsnap process.
type peakRun struct {
	result
	hwmKiB int64 // the highest VmHWM read while it ran: pgsnap's own peak
}

// runPeak runs pgsnap to the end and reads its VmHWM every few milliseconds while it runs.
// VmHWM only grows, so the last reading before exit misses at most what the final few
// milliseconds (manifest, retention) added. wait4's ru_maxrss would cover the very end, but it
// is no measure of pgsnap: it is the maximum over pg_dump and pg_restore too, and since Go
// starts children with a vfork-style clone, exec records the high-water mark of the mm it
// leaves, which is this test process's.
func runPeak(t *testing.T, env map[string]string, args ...string) peakRun {
	t.Helper()
	cmd, stdout, stderr := pgsnapCmd(t, env, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	done := make(chan struct{})
	var hwm int64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := procStatusKiB(pid, "VmHWM"); err == nil && v > hwm {
				hwm = v
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	code, _ := waitExit(t, cmd, time.Now(), 2*time.Minute)
	close(done)
	wg.Wait()
	r := peakRun{result: result{stdout: stdout.String(), stderr: stderr.String(), code: code}, hwmKiB: hwm}
	if code != 0 {
		t.Logf("pgsnap %s -> exit %d\nstderr:\n%s", strings.Join(args, " "), code, r.stderr)
	}
	return r
}

// generatedDB makes a database of one table of rows hex rows (about 105 bytes each on disk,
// half as much once compressed) and returns its name and size in bytes.
func generatedDB(t *testing.T, c *pgtest.Cluster, rows int) (string, int64) {
	t.Helper()
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, fmt.Sprintf(`CREATE TABLE big AS
		SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, %d) g`, rows)); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var size int64
	if err := conn.QueryRow(t.Context(), "SELECT pg_database_size(current_database())").Scan(&size); err != nil {
		t.Fatal(err)
	}
	return db, size
}

// memoryCeilingMiB is T13's bound on pgsnap's peak RSS, whatever the database's size: pg_dump's
// stream passes through in 1 MiB pieces (zstd frames of 1 MiB on a few goroutines, age in
// 64 KiB chunks), so nothing in pgsnap grows with the database.
const memoryCeilingMiB = 96

// T13: pgsnap's peak RSS does not grow with the database. Two generated databases (about 20 MB
// and 120 MB) are snapshotted plain and age-encrypted; each run's VmHWM must stay under
// memoryCeilingMiB and the larger database's peak within 1.25 times the smaller's. A ratio of
// peaks, not a timing.
func TestMemoryFlatAcrossDatabaseSizes(t *testing.T) {
	invariants.Fault(t, "T13")
	c := pgtest.Get(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	small, smallSize := generatedDB(t, c, 180_000)
	large, largeSize := generatedDB(t, c, 1_100_000)
	if largeSize < 4*smallSize {
		t.Fatalf("databases of %d and %d bytes: want the larger at least 4 times the smaller", smallSize, largeSize)
	}
	modes := []struct {
		name string
		env  map[string]string
	}{
		{"zstd", nil},
		{"zstd+age", map[string]string{"SNAPSHOT_AGE_RECIPIENTS": id.Recipient().String()}},
	}
	var figures []string
	for _, m := range modes {
		peak := map[string]peakRun{}
		for _, db := range []string{small, large} {
			dir := filepath.Join(t.TempDir(), "snapshots")
			env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir}
			for k, v := range m.env {
				env[k] = v
			}
			r := runPeak(t, env, "snapshot")
			if r.code != 0 {
				t.Fatalf("%s snapshot of %s: exit %d", m.name, db, r.code)
			}
			peak[db] = r
			if mib := float64(r.hwmKiB) / 1024; mib > memoryCeilingMiB {
				t.Errorf("%s snapshot of the %s database: peak RSS %.1f MiB, want at most %d MiB", m.name, sizeName(db == large), mib, memoryCeilingMiB)
			}
			invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, Database: db, DirCreated: true, MinComplete: 1})
		}
		ratio := float64(peak[large].hwmKiB) / float64(peak[small].hwmKiB)
		if ratio > 1.25 {
			t.Errorf("%s: peak RSS %.1f MiB for %d MB, %.1f MiB for %d MB: ratio %.2f, want at most 1.25",
				m.name, mib(peak[small].hwmKiB), smallSize>>20, mib(peak[large].hwmKiB), largeSize>>20, ratio)
		}
		figures = append(figures, fmt.Sprintf("%s %d MB → %.1f MiB, %d MB → %.1f MiB (x%.2f)",
			m.name, smallSize>>20, mib(peak[small].hwmKiB), largeSize>>20, mib(peak[large].hwmKiB), ratio))
	}
	invariants.Report(t, "T13 peak RSS: %s", strings.Join(figures, "; "))
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func sizeName(large bool) string {
	if large {
		return "larger"
	}
	return "smaller"
}
