package httpapi

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// t0 is the fixture's "now": 12:00 UTC, nine hours after the 03:00 slot.
var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// fixture is a realistic status: one healthy daily target with two destinations and a drill.
func fixture() Status {
	snap := func(name string, finished time.Time) Snapshot {
		return Snapshot{
			Name: name, Time: finished, Size: 1610612736, Duration: 95 * time.Second,
			Checks: []string{"sha256", "archive"}, Labels: map[string]string{"app": "api"},
		}
	}
	newest := snap("app-20261124T030000Z", t0.Add(-9*time.Hour+95*time.Second))
	newest.Drill = &Drill{At: t0.Add(-8 * time.Hour), Snapshot: newest.Name, OK: true, Duration: 4 * time.Minute}
	older := snap("app-20261123T030000Z", t0.Add(-33*time.Hour+90*time.Second))
	older.Missing = []string{"offsite"}
	return Status{
		Version: "1.4.2",
		Targets: []Target{{
			Name:               "app",
			Schedule:           "daily at 03:00 UTC",
			NextSlot:           time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC),
			Interval:           24 * time.Hour,
			StaleAfter:         time.Hour,
			Alive:              true,
			LastSuccess:        newest.Time,
			LastFailure:        t0.Add(-33 * time.Hour),
			LastError:          "dump: pg_dump: connection refused",
			LastDuration:       95 * time.Second,
			LastSize:           1610612736,
			DumpBytesPerSecond: 395e6,
			Attempts:           3,
			Retries:            1,
			Failures:           map[string]int64{"dump": 1},
			Snapshots:          []Snapshot{newest, older},
			Destinations: []Destination{
				{Name: "primary", Snapshots: 2, Bytes: 3221225472},
				{Name: "offsite", Snapshots: 1, Bytes: 1610612736, Failures: 1, Incomplete: 1},
			},
			Drill:        newest.Drill,
			DrillsPassed: 1,
		}},
	}
}

// statusSource is a Status a test changes while a handler reads it.
type statusSource struct {
	mu  sync.Mutex
	st  Status
	err error
}

func (s *statusSource) set(st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = st
}

func (s *statusSource) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *statusSource) read(context.Context) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st, s.err
}

// clock is a settable time for Options.Clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) read() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got; -update rewrites):\n%s", name, diff)
	}
}
