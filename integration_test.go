package pgsnap_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
	"github.com/pgsnap/pgsnap/schedule"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// awkwardSQL builds tables that are easy to get wrong in a round trip (RELIABILITY.md T36).
const awkwardSQL = `
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Weird ""Table"" ünï" (
  id bigserial PRIMARY KEY,
  doc jsonb, raw bytea, amount numeric(30,10), tags text[], matrix int[][],
  at timestamptz, day date, note text, flag boolean, big bigint, f float8
);
INSERT INTO "Odd Schema"."Weird ""Table"" ünï" (doc, raw, amount, tags, matrix, at, day, note, flag, big, f)
SELECT jsonb_build_object('n', g, 'nested', jsonb_build_object('emoji', '🐘', 'q', 'it''s "quoted"')),
       decode(md5(g::text), 'hex') || '\x00ff'::bytea,
       g * 1234567.0123456789, ARRAY['a,b', 'c"d', NULL, 'ünï'], ARRAY[[g, 2], [3, 4]],
       timestamptz '2026-03-29 01:30:00+01' + g * interval '17 minutes', date '2028-02-29' + g,
       CASE WHEN g % 7 = 0 THEN NULL ELSE E'line\nbreak\ttab\\back 漢字 ' || g END,
       g % 2 = 0, 9223372036854775807 - g, 1.0 / g
FROM generate_series(1, 2000) g;
CREATE SEQUENCE counter START 100;
SELECT nextval('counter'), nextval('counter');
CREATE VIEW recent AS SELECT id, note FROM "Odd Schema"."Weird ""Table"" ünï" WHERE id > 1990;
CREATE TABLE accounts (id int PRIMARY KEY, balance numeric NOT NULL);
INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 100) g;
SELECT lo_from_bytea(0, convert_to(repeat('large object ✓ ', 5000), 'UTF8'));
`

type fixture struct {
	c      *pgtest.Cluster
	db     string
	dir    string
	logBuf *syncBuffer
}

func newFixture(t *testing.T, sql string) *fixture {
	t.Helper()
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if sql != "" {
		if err := c.Exec(t.Context(), db, sql); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{c: c, db: db, dir: filepath.Join(t.TempDir(), "snapshots"), logBuf: &syncBuffer{}}
}

func (f *fixture) config(url string) pgsnap.Config {
	cfg := pgsnap.DefaultConfig()
	cfg.DatabaseURL = pgsnap.ConnString(url)
	cfg.Dir = f.dir
	cfg.Timeout = time.Minute
	cfg.CatchUp = pgsnap.CatchUpSkip // TestCatchUp covers it
	return cfg
}

func (f *fixture) scheduler(t *testing.T, cfg pgsnap.Config, opts ...pgsnap.Option) *pgsnap.Scheduler {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(f.logBuf, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := pgsnap.New(cfg, append([]pgsnap.Option{pgsnap.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTripAwkwardTypes(t *testing.T) {
	f := newFixture(t, awkwardSQL)
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Slot != nil || snap.Target != f.db || !strings.HasPrefix(snap.Name, f.db+"-") {
		t.Errorf("snapshot = %+v, want a manual snapshot of target %s", snap, f.db)
	}

	// list reports a sha256 that matches the stored file.
	snaps, err := s.List(t.Context())
	if err != nil || len(snaps) != 1 {
		t.Fatalf("List = %v, %v; want one snapshot", snaps, err)
	}
	b, err := os.ReadFile(filepath.Join(f.dir, snaps[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != snaps[0].SHA256 || int64(len(b)) != snaps[0].Size {
		t.Errorf("stored file sha256 %s size %d; list says %s size %d", got, len(b), snaps[0].SHA256, snaps[0].Size)
	}

	restored := f.db + "_restored"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), restored) })
	if _, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(restored)), Jobs: 2}); err != nil {
		t.Fatal(err)
	}
	want, got := f.c.FingerprintDB(t, f.db), f.c.FingerprintDB(t, restored)
	if len(want) < 4 {
		t.Fatalf("source fingerprint has %d entries, want tables, sequence and large object", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("restored database differs (-source +restored):\n%s", diff)
	}
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, DirCreated: true})
}

func TestRoundTripPagila(t *testing.T) {
	var sql strings.Builder
	for _, p := range []string{"testdata/pagila-schema.sql", "testdata/pagila-data.sql"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sql.Write(b)
		sql.WriteString("\n")
	}
	f := newFixture(t, sql.String())
	s := f.scheduler(t, f.config(f.c.URL(f.db)))
	snap, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	restored := f.db + "_pagila"
	t.Cleanup(func() { f.c.DropDatabase(context.Background(), restored) })
	if _, err := s.Restore(t.Context(), "latest", pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(restored))}); err != nil {
		t.Fatal(err)
	}
	want, got := f.c.FingerprintDB(t, f.db), f.c.FingerprintDB(t, restored)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("restored pagila differs (-source +restored):\n%s", diff)
	}
	var rows int
	for _, v := range want {
		var n int
		if _, err := fmt.Sscanf(v, "rows=%d", &n); err == nil {
			rows += n
		}
	}
	t.Logf("pagila round trip of %s: %d objects, %d rows identical", snap.Name, len(want), rows)

	// A second restore into the now non-empty database is refused without Clean, and works with it.
	_, err = s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(restored))})
	if err == nil || !strings.Contains(err.Error(), "--clean") || !strings.Contains(err.Error(), restored) {
		t.Errorf("restore into a non-empty database = %v, want a refusal naming it and --clean", err)
	}
	if _, err := s.Restore(t.Context(), snap.Name, pgsnap.RestoreOptions{Target: pgsnap.ConnString(f.c.URL(restored)), Clean: true}); err != nil {
		t.Errorf("restore --clean = %v", err)
	}
	if diff := cmp.Diff(want, f.c.FingerprintDB(t, restored)); diff != "" {
		t.Errorf("after restore --clean (-source +restored):\n%s", diff)
	}
}

// steppingClock returns a wall clock that moves one minute forward on every snapshot start,
// so manual snapshots taken in a quick loop get distinct names.
type steppingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func TestRetentionKeepsNewestAndForeignFiles(t *testing.T) {
	f := newFixture(t, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
	clock := &steppingClock{t: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)}
	cfg := f.config(f.c.URL(f.db))
	cfg.Retention = 100
	s := f.scheduler(t, cfg, pgsnap.WithClock(clock.now))
	var names []string
	dataOf := map[string]string{}
	for range 5 {
		snap, err := s.SnapshotNow(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, snap.Name)
		dataOf[snap.Name] = snap.Data
	}
	// Another target's snapshot in the same directory.
	other := cfg
	other.Target = "other"
	if _, err := f.scheduler(t, other, pgsnap.WithClock(clock.now)).SnapshotNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	foreign := map[string]string{
		"notes.txt":                 "operator notes",
		"snapshot-notes.json":       `{"not": "a manifest"}`,
		f.db + "-notes.json":        "{}",
		".hidden":                   "x",
		f.db + "-2099-01-01.backup": "x",
	}
	for name, content := range foreign {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// mtimes must not matter: make the newest snapshot's files look oldest.
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, file := range []string{names[4] + ".json", dataOf[names[4]]} {
		os.Chtimes(filepath.Join(f.dir, file), old, old)
	}
	before := invariants.Snapshot(t, f.dir)

	cfg.Retention = 3
	s = f.scheduler(t, cfg, pgsnap.WithClock(clock.now))
	decisions, err := s.Prune(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := invariants.Snapshot(t, f.dir); !cmp.Equal(before, got) {
		t.Errorf("prune --dry-run changed the directory")
	}
	if len(decisions) != 5 {
		t.Errorf("dry run decided on %d snapshots, want 5 (this target only)", len(decisions))
	}
	if _, err := s.Prune(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	snaps, err := s.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, sn := range snaps {
		if sn.Target == f.db {
			kept = append(kept, sn.Name)
		}
	}
	if want := []string{names[4], names[3], names[2]}; !cmp.Equal(want, kept) {
		t.Errorf("kept %v, want the newest three %v", kept, want)
	}
	var deleted []string
	for _, n := range names[:2] {
		deleted = append(deleted, n+".json", dataOf[n])
	}
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Before: before, Deleted: deleted, Cluster: f.c, MinComplete: 4})
	for name := range foreign {
		if _, err := os.Stat(filepath.Join(f.dir, name)); err != nil {
			t.Errorf("foreign file %s: %v", name, err)
		}
	}
	if len(snaps) != 4 {
		t.Errorf("listed %d snapshots, want 3 of this target and 1 of the other", len(snaps))
	}
}

// T9 (a): a table lock held by another session makes pg_dump fail after the lock-wait timeout.
func TestLockWaitTimeout(t *testing.T) {
	invariants.Fault(t, "T9")
	f := newFixture(t, "CREATE TABLE accounts (id int); INSERT INTO accounts VALUES (1)")
	holdLock(t, f.c, f.db, "accounts")
	cfg := f.config(f.c.URL(f.db))
	cfg.LockWaitTimeout = 2 * time.Second
	start := time.Now()
	_, err := f.scheduler(t, cfg).SnapshotNow(t.Context())
	took := time.Since(start)
	invariants.Report(t, "T9a lock-wait: failed after %.1f s (limit 2 s): %v", took.Seconds(), err)
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c,
		Failure: err, FailureMentions: []string{"lock", "accounts", "SNAPSHOT_LOCK_WAIT_TIMEOUT"}})
}

// T9 and the acceptance: with the lock held and SNAPSHOT_TIMEOUT=4s, the attempt fails
// within seconds, names SNAPSHOT_TIMEOUT and says what pg_dump was waiting for.
func TestTimeoutKillsDump(t *testing.T) {
	f := newFixture(t, "CREATE TABLE accounts (id int); INSERT INTO accounts VALUES (1)")
	holdLock(t, f.c, f.db, "accounts")
	cfg := f.config(f.c.URL(f.db))
	cfg.Timeout = 4 * time.Second
	start := time.Now()
	_, err := f.scheduler(t, cfg).SnapshotNow(t.Context())
	took := time.Since(start)
	var te *pgsnap.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SnapshotNow = %v, want a *TimeoutError", err)
	}
	invariants.Report(t, "T9b overall timeout: fired after %.1f s (limit 4 s): %v", took.Seconds(), firstLine(err))
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c,
		Failure: err, FailureMentions: []string{"SNAPSHOT_TIMEOUT", "4s", "accounts", "lock"}})
}

// holdLock keeps an ACCESS EXCLUSIVE lock on table in an open transaction until the test ends.
func holdLock(t *testing.T, c *pgtest.Cluster, db, table string) {
	t.Helper()
	conn, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(t.Context(), "BEGIN; LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
}

// T5: cancelling SnapshotNow mid-dump returns context.Canceled promptly and leaves nothing.
func TestCancelMidDump(t *testing.T) {
	f := newFixture(t, "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 100000) g")
	slow := pgtest.Throttle(t, f.c.Addr(), 256<<10) // ~10 MB at 256 KiB/s: about 40 s
	url := strings.Replace(f.c.URL(f.db), f.c.Addr(), slow, 1)
	cfg := f.config(url)
	s := f.scheduler(t, cfg)
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var cancelled time.Time
	go func() {
		invariants.WaitForTemp(t, f.dir, 1, 30*time.Second)
		cancelled = time.Now()
		cancel()
	}()
	_, err := s.SnapshotNow(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("SnapshotNow after cancel = %v, want context.Canceled", err)
	}
	took := time.Since(cancelled)
	invariants.Report(t, "T5 cancel mid-dump: SnapshotNow returned %.2f s after cancel", took.Seconds())
	if names := invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, Shutdown: took}); len(names) != 0 {
		t.Errorf("listed %v after a cancelled snapshot, want none", names)
	}
}

// The schedule end to end, outside synctest, on a real PostgreSQL: the injected clock puts the
// next 03:00 UTC slot two seconds away.
func TestRunTakesScheduledSlot(t *testing.T) {
	f := newFixture(t, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
	cfg := f.config(f.c.URL(f.db))
	cfg.Enabled = true
	cfg.Schedule = schedule.Daily{Hour: 3}
	slot := schedule.Daily{Hour: 3}.Next(time.Now())
	offset := time.Until(slot.Add(-2 * time.Second))
	clock := func() time.Time { return time.Now().Add(offset) }
	s := f.scheduler(t, cfg, pgsnap.WithClock(clock))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	var snaps []pgsnap.Snapshot
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && len(snaps) == 0; time.Sleep(100 * time.Millisecond) {
		snaps, _ = s.List(t.Context())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after cancel", err)
	}
	if len(snaps) != 1 {
		t.Fatalf("snapshots = %d, want 1 for the slot", len(snaps))
	}
	if snaps[0].Slot == nil || !snaps[0].Slot.Equal(slot) || snaps[0].Name != f.db+"-"+slot.Format("20060102T150405Z") {
		t.Errorf("snapshot %s slot %v, want slot %v in name and manifest", snaps[0].Name, snaps[0].Slot, slot)
	}
	invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, DirCreated: true})
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
