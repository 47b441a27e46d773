package pgsnap_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/schedule"
)

const verifySQL = `
CREATE TABLE accounts (id int PRIMARY KEY, balance numeric NOT NULL, note text);
INSERT INTO accounts SELECT g, 100, 'line one' || E'\n' || 'tab	and \ backslash ü ' || g FROM generate_series(1, 20000) g;
CREATE TABLE empty_table (id int);
CREATE TABLE "Quoted Name" (id int);
INSERT INTO "Quoted Name" SELECT generate_series(1, 7);
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT g, date '2025-06-01' + g FROM generate_series(1, 400) g;
SELECT lo_from_bytea(0, '\xdeadbeef');
`

// takeSnapshots takes n snapshots with a stepping clock and returns them, newest first.
func takeSnapshots(t *testing.T, f *fixture, cfg pgsnap.Config, n int) (*pgsnap.Scheduler, []pgsnap.Snapshot) {
	t.Helper()
	clock := &steppingClock{t: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)}
	cfg.Retention = n
	s := f.scheduler(t, cfg, pgsnap.WithClock(clock.now))
	for range n {
		if _, err := s.SnapshotNow(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	snaps, err := s.List(t.Context())
	if err != nil || len(snaps) != n {
		t.Fatalf("List = %d snapshots, %v; want %d", len(snaps), err, n)
	}
	return s, snaps
}

func TestManifestRowCounts(t *testing.T) {
	f := newFixture(t, verifySQL)
	s, snaps := takeSnapshots(t, f, f.config(f.c.URL(f.db)), 1)
	want := map[string]int64{
		`"public"."accounts"`:    20000,
		`"public"."empty_table"`: 0,
		`"public"."Quoted Name"`: 7,
		`"public"."events_2025"`: 213,
		`"public"."events_2026"`: 187,
	}
	got := snaps[0].Rows
	for table, n := range want {
		if got[table] != n {
			t.Errorf("rows[%s] = %d, want %d (all: %v)", table, got[table], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rows has %d tables, want %d: %v", len(got), len(want), got)
	}
	if snaps[0].Compression != pgsnap.CompressionZstd || !strings.HasSuffix(snaps[0].Data, ".dump.zst") || snaps[0].ArchiveSize <= snaps[0].Size {
		t.Errorf("snapshot %+v: want a zstd object smaller than its archive", snaps[0])
	}
	_ = s
}

// The counts describe exactly the data dumped, also while another session inserts rows: they
// equal the rows of the restored tables.
func TestRowCountsUnderWriteLoad(t *testing.T) {
	invariants.Fault(t, "T12")
	f := newFixture(t, "CREATE TABLE ledger (id bigserial PRIMARY KEY, amount int); INSERT INTO ledger (amount) SELECT g FROM generate_series(1, 50000) g")
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		conn, err := f.c.Connect(ctx, f.db)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		for ctx.Err() == nil {
			conn.Exec(ctx, "INSERT INTO ledger (amount) SELECT g FROM generate_series(1, 50) g")
		}
	})
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	restored := f.db + "_load"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), restored) })
	if _, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(restored)), Jobs: 2}); err != nil {
		t.Fatal(err)
	}
	conn, err := f.c.Connect(t.Context(), restored)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM ledger").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if got := snap.Rows[`"public"."ledger"`]; got != n {
		t.Errorf("manifest counts %d rows of ledger, the restored table has %d", got, n)
	}
	invariants.Report(t, "T12 counts under write load: manifest %d rows = restored %d", snap.Rows[`"public"."ledger"`], n)
}

// T17: every kind of damage is found by verify, named, and refused by restore before it
// connects; T18: twenty good snapshots raise no alarm.
func TestCorruptionMatrix(t *testing.T) {
	invariants.Fault(t, "T17")
	f := newFixture(t, verifySQL)
	s, snaps := takeSnapshots(t, f, f.config(f.c.URL(f.db)), 20)
	for _, snap := range snaps {
		if r := s.Verify(t.Context(), snap, pgsnap.VerifyOptions{}); !r.OK {
			t.Errorf("false alarm on good snapshot %s: %s", snap.Name, r.Error)
		}
	}
	data := func(sn pgsnap.Snapshot) string { return filepath.Join(f.dir, sn.Data) }
	manifest := func(sn pgsnap.Snapshot) string { return filepath.Join(f.dir, sn.Name+".json") }
	edit := func(path string, fn func([]byte) []byte) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, fn(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		kind string
		harm func(sn pgsnap.Snapshot)
		want string // in the error
	}{
		{"flipped byte", func(sn pgsnap.Snapshot) { edit(data(sn), func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }) }, "sha256"},
		{"truncated by one byte", func(sn pgsnap.Snapshot) { edit(data(sn), func(b []byte) []byte { return b[:len(b)-1] }) }, "size"},
		{"one byte appended", func(sn pgsnap.Snapshot) { edit(data(sn), func(b []byte) []byte { return append(b, 0) }) }, "size"},
		{"data deleted", func(sn pgsnap.Snapshot) { os.Remove(data(sn)) }, "not found"},
		{"manifest deleted", func(sn pgsnap.Snapshot) { os.Remove(manifest(sn)) }, "not found"},
		{"manifest truncated", func(sn pgsnap.Snapshot) { edit(manifest(sn), func(b []byte) []byte { return b[:len(b)/2] }) }, "invalid manifest"},
		{"other snapshot's data", func(sn pgsnap.Snapshot) {
			other, _ := os.ReadFile(filepath.Join(f.dir, snaps[0].Data))
			os.WriteFile(data(sn), other, 0o600)
		}, "corrupt"}, // size or sha256, whichever differs first
		{"zero-length data", func(sn pgsnap.Snapshot) { os.WriteFile(data(sn), nil, 0o600) }, "size"},
	}
	detected, refused := 0, 0
	for i, tc := range cases {
		sn := snaps[i+1] // snaps[0] stays good: other cases borrow its data
		tc.harm(sn)
		var r pgsnap.VerifyResult
		if found, err := s.Find(t.Context(), sn.Name); err != nil {
			r = pgsnap.VerifyResult{Name: sn.Name, Error: err.Error()}
		} else {
			r = s.Verify(t.Context(), found, pgsnap.VerifyOptions{})
		}
		if r.OK || !strings.Contains(r.Error, sn.Name) || !strings.Contains(r.Error, tc.want) {
			t.Errorf("%s: verify = ok %v, error %q; want a failure naming %s and %q", tc.kind, r.OK, r.Error, sn.Name, tc.want)
		} else {
			detected++
		}
		target := fmt.Sprintf("%s_r%d", f.db, i)
		if _, err := s.Restore(t.Context(), sn.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(target))}); err == nil {
			t.Errorf("%s: restore succeeded", tc.kind)
			f.c.DropDatabase(context.Background(), target)
		} else if exists(t, f, target) {
			t.Errorf("%s: restore created database %s before refusing", tc.kind, target)
		} else {
			refused++
		}
	}
	invariants.Report(t, "T17 corruption matrix: detected %d/%d, restores refused %d/%d, false alarms 0/%d", detected, len(cases), refused, len(cases), len(snaps))
	// The store is damaged on purpose, so only the session invariant applies here.
	invariants.AssertNoSessions(t, f.c, f.db)
	assertNoScratch(t, f)
}

func exists(t *testing.T, f *fixture, db string) bool {
	conn, err := f.c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var ok bool
	conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&ok)
	return ok
}

// T18: damage inside the compressed stream with the manifest's hash rewritten to match (a
// writer bug): quick verify cannot know, full verify finds it; drills pass on good snapshots,
// leave no scratch database, and catch a manifest whose counts the restore does not match.
func TestFullVerifyAndDrill(t *testing.T) {
	invariants.Fault(t, "T18")
	f := newFixture(t, verifySQL)
	s, snaps := takeSnapshots(t, f, f.config(f.c.URL(f.db)), 3)
	good, damaged, lying := snaps[0], snaps[1], snaps[2]

	r := s.Verify(t.Context(), good, pgsnap.VerifyOptions{Full: true, Drill: true})
	if !r.OK || r.Drill == nil || r.Drill.Tables != 5 || r.Drill.Rows != 20407 {
		t.Errorf("verify --full --drill of a good snapshot = %+v drill %+v; want ok with 5 tables, 20407 rows", r, r.Drill)
	}
	listed, _ := s.List(t.Context())
	if listed[0].Drill == nil || !listed[0].Drill.OK {
		t.Errorf("list does not show the drill of %s: %+v", good.Name, listed[0].Drill)
	}

	// Damage deep inside the compressed stream, then make the manifest agree with it.
	path := filepath.Join(f.dir, damaged.Data)
	b, _ := os.ReadFile(path)
	b[len(b)*3/4] ^= 0xff
	os.WriteFile(path, b, 0o600)
	rewriteManifest(t, f.dir, damaged.Name, func(m map[string]any) {
		m["sha256"] = sha256Hex(b)
	})
	damaged, _ = s.Find(t.Context(), damaged.Name)
	quick := s.Verify(t.Context(), damaged, pgsnap.VerifyOptions{})
	full := s.Verify(t.Context(), damaged, pgsnap.VerifyOptions{Full: true})
	if full.OK {
		t.Errorf("verify --full of a snapshot damaged inside its stream passed")
	}
	invariants.Report(t, "T18 deep damage: quick ok=%v, full ok=%v (%s)", quick.OK, full.OK, full.Error)

	// A manifest that claims rows the archive does not hold: the drill catches it.
	rewriteManifest(t, f.dir, lying.Name, func(m map[string]any) {
		m["rows"].(map[string]any)[`"public"."accounts"`] = 20001
	})
	lying, _ = s.Find(t.Context(), lying.Name)
	d := s.Verify(t.Context(), lying, pgsnap.VerifyOptions{Drill: true})
	if d.OK || !strings.Contains(d.Error, "accounts") {
		t.Errorf("drill of a snapshot whose rows differ = %+v, want a failure naming accounts", d)
	}
	assertNoScratch(t, f)
	if st := s.Stats(); st.DrillsPassed != 1 || st.DrillsFailed != 1 {
		t.Errorf("Stats() = %+v, want 1 drill passed and 1 failed", st)
	}
	invariants.Report(t, "T18 drill: good passed in %v, lost rows caught: %v", r.Drill.Duration.Round(time.Millisecond), !d.OK)
}

func assertNoScratch(t *testing.T, f *fixture) {
	t.Helper()
	conn, err := f.c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname LIKE 'pgsnap\\_drill\\_%'").Scan(&n)
	if n != 0 {
		t.Errorf("%d scratch databases left", n)
	}
}

func rewriteManifest(t *testing.T, dir, name string, fn func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, name+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, _ = json.Marshal(m)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// SNAPSHOT_DRILL_SCHEDULE=after-each: the daemon drills each scheduled snapshot, stores the
// result beside it, and list shows it.
func TestScheduledDrillAfterEach(t *testing.T) {
	f := newFixture(t, verifySQL)
	cfg := f.config(f.c.URL(f.db))
	cfg.Enabled = true
	cfg.DrillSchedule = pgsnap.DrillAfterEach
	slot := (schedule.Daily{Hour: 3}).Next(time.Now())
	offset := time.Until(slot.Add(-2 * time.Second))
	s := f.scheduler(t, cfg, pgsnap.WithClock(func() time.Time { return time.Now().Add(offset) }))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var snaps []pgsnap.Snapshot
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if snaps, _ = s.List(t.Context()); len(snaps) == 1 && snaps[0].Drill != nil {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if len(snaps) != 1 || snaps[0].Drill == nil || !snaps[0].Drill.OK || snaps[0].Drill.Tables != 5 {
		t.Fatalf("after one slot: %d snapshots, drill %+v; want one drilled ok over 5 tables", len(snaps), snaps)
	}
	if _, err := os.Stat(filepath.Join(f.dir, snaps[0].Name+".drill.json")); err != nil {
		t.Errorf("drill result file: %v", err)
	}
	assertNoScratch(t, f)
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, Database: f.db, DirCreated: true, MinComplete: 1})
}

// T37: a restore stopped mid-way drops the database it created; one it did not create is
// never dropped.
func TestCancelledRestoreDropsCreatedDatabase(t *testing.T) {
	invariants.Fault(t, "T37")
	f := newFixture(t, "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS a, md5((g*3)::text) AS b FROM generate_series(1, 600000) g; CREATE INDEX ON big (a); CREATE INDEX ON big (b)")
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	target := f.db + "_cut"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), target) })
	ctx, cancel := context.WithCancel(t.Context())
	restoring := make(chan bool, 1)
	go func() {
		// Cancel once the restore is under way: its scratch database exists.
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if len(scratchDatabases(t, f)) > 0 {
				restoring <- true
				break
			}
		}
		cancel()
	}()
	_, err = s.Restore(ctx, snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(target)), Jobs: 2})
	if err == nil {
		t.Skip("the restore finished before it could be cancelled")
	}
	if len(restoring) == 0 {
		t.Fatalf("Restore = %v before any scratch database was seen", err)
	}
	if exists(t, f, target) {
		t.Errorf("database %s appeared although its restore was cancelled", target)
	}
	if left := scratchDatabases(t, f); len(left) > 0 {
		t.Errorf("scratch databases left after the cancelled restore: %v", left)
	}
	if !exists(t, f, f.db) {
		t.Errorf("the source database is gone")
	}
	invariants.AssertNoSessions(t, f.c, "")
	invariants.Report(t, "T37 restore cancelled mid-way: target never created %v, scratch databases left %d", !exists(t, f, target), len(scratchDatabases(t, f)))
}

// scratchDatabases lists the restore and drill scratch databases on the fixture's server.
func scratchDatabases(t *testing.T, f *fixture) []string {
	conn, err := f.c.Connect(context.Background(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT datname FROM pg_database WHERE datname LIKE 'pgsnap\_restore\_%' OR datname LIKE 'pgsnap\_drill\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// Snapshots of the first format (a pg_dump -Fc archive stored as it is, compressed by pg_dump)
// keep verifying, drilling and restoring.
func TestFirstFormatSnapshotsStillRestore(t *testing.T) {
	f := newFixture(t, verifySQL)
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := f.db + "-20260101T030000Z"
	data := filepath.Join(f.dir, name+".dump")
	cmd := exec.Command(filepath.Join(f.c.BinDir, "pg_dump"), "-Fc", "-f", data, "-d", f.c.URL(f.db))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(data, 0o600)
	at := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	man, _ := json.Marshal(map[string]any{
		"manifest_version": 1, "name": name, "target": f.db, "database": f.db, "slot": at,
		"started_at": at, "finished_at": at.Add(time.Second), "data": name + ".dump",
		"size": len(b), "sha256": sha256Hex(b), "format": "custom", "compression": "pg_dump",
		"encrypted": false, "pg_dump_version": "15.0", "server_version": "15.0", "labels": map[string]string{},
	})
	if err := os.WriteFile(filepath.Join(f.dir, name+".json"), man, 0o600); err != nil {
		t.Fatal(err)
	}
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.Find(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Verify(t.Context(), snap, pgsnap.VerifyOptions{Full: true, Drill: true}); !r.OK {
		t.Errorf("verify --full --drill of a first-format snapshot: %s", r.Error)
	}
	restored := f.db + "_v1"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), restored) })
	if _, err := s.Restore(t.Context(), name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(restored)), Jobs: 2}); err != nil {
		t.Fatal(err)
	}
	if want, got := f.c.FingerprintDB(t, f.db), f.c.FingerprintDB(t, restored); !maps.Equal(want, got) {
		t.Errorf("first-format restore differs")
	}
	assertNoScratch(t, f)
}
