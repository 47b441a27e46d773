package retention

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"

	"github.com/google/go-cmp/cmp"
)

// gfsCase is a synthetic store listing for a golden decision table.
type gfsCase struct {
	name    string // testdata/NAME.golden
	comment string
	items   []Item
	policy  Policy
	now     time.Time
}

// gfsCases returns the golden cases: 400 snapshots each, listed oldest
// first as a store might, with grandfather-father-son settings.
func gfsCases(t *testing.T) []gfsCase {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("LoadLocation: %v", err)
	}
	end := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	var daily []Item
	for i := 399; i >= 0; i-- {
		at := end.AddDate(0, 0, -i)
		daily = append(daily, Item{Name: at.Format("app-20060102T150405Z"), Time: at})
	}
	var sixHourly []Item
	for i := 399; i >= 0; i-- {
		at := end.Add(-time.Duration(i) * 6 * time.Hour)
		sixHourly = append(sixHourly, Item{Name: at.Format("app-20060102T150405Z"), Time: at, Pinned: i == 360})
	}
	return []gfsCase{
		{
			name:    "gfs-400",
			comment: "400 daily snapshots at 03:00 UTC up to Tuesday 2026-11-24, GFS buckets in UTC",
			items:   daily,
			policy:  Policy{Last: 3, Daily: 7, Weekly: 4, Monthly: 12, Yearly: 2, MinKeep: 1},
			now:     end.Add(9 * time.Hour),
		},
		{
			name: "gfs-400-berlin-max-age",
			comment: "400 snapshots every 6 hours over 100 days, buckets on Berlin's calendar (DST ends 2026-10-25), " +
				"max age 60 days, one pinned snapshot 90 days old, min keep 2",
			items: sixHourly,
			policy: Policy{Last: 3, Daily: 7, Weekly: 4, Monthly: 12, Yearly: 2,
				MaxAge: 60 * 24 * time.Hour, MinKeep: 2, Location: berlin},
			now: end.Add(9 * time.Hour),
		},
	}
}

// TestApplyGolden runs Apply on each case and compares a readable table of
// the decisions with testdata/NAME.golden. Run with -update after an
// intended change and review the diff.
func TestApplyGolden(t *testing.T) {
	invariants.Fault(t, "T21")
	t.Parallel()
	for _, c := range gfsCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := renderGFS(t, c)
			golden := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatalf("update golden file: %v", err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Apply(%s) mismatch with %s (-want +got):\n%s", c.name, golden, diff)
			}
		})
	}
}

// TestApplyGFS400KeepSet states the expected keep set of gfs-400 by hand,
// so the golden file is checked against reasoning, not only against itself.
func TestApplyGFS400KeepSet(t *testing.T) {
	t.Parallel()
	c := gfsCases(t)[0]
	decisions, err := Apply(c.items, c.policy, c.now)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	var got []string
	for _, d := range decisions {
		if d.Keep {
			got = append(got, d.Time.Format(time.DateOnly))
		}
	}
	want := []string{
		// last 3 and daily 7: the newest seven days.
		"2026-11-24", "2026-11-23", "2026-11-22", "2026-11-21", "2026-11-20", "2026-11-19", "2026-11-18",
		// weekly 4: W48 and W47 end on 11-24 and 11-22 (kept above), W46 and W45 on Sundays.
		"2026-11-15", "2026-11-08",
		// monthly 12: November (kept above) and the last days of the 11 months before.
		"2026-10-31", "2026-09-30", "2026-08-31", "2026-07-31", "2026-06-30", "2026-05-31",
		"2026-04-30", "2026-03-31", "2026-02-28", "2026-01-31", "2025-12-31",
		// yearly 2: 2026 (kept above) and 2025, whose newest is 2025-12-31 (kept above).
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply(gfs-400) keep set mismatch (-want +got):\n%s", diff)
	}
}

func renderGFS(t *testing.T, c gfsCase) []byte {
	t.Helper()
	decisions, err := Apply(c.items, c.policy, c.now)
	if err != nil {
		t.Fatalf("Apply(%s): %v", c.name, err)
	}
	kept := len(slices.DeleteFunc(slices.Clone(decisions), func(d Decision) bool { return !d.Keep }))
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# %s\n", c.comment)
	fmt.Fprintf(&buf, "Apply(%d items, %s, now %s): keep %d, drop %d\n",
		len(c.items), c.policy, c.now.Format(time.RFC3339), kept, len(decisions)-kept)
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, d := range decisions {
		verdict := "drop"
		if d.Keep {
			verdict = "keep"
		}
		// The time in the policy's zone, with the weekday, is what the
		// buckets follow.
		local := d.Time.In(c.policy.location()).Format("Mon 2006-01-02 15:04 MST")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", verdict, d.Name, local, d.Reason)
	}
	if err := tw.Flush(); err != nil {
		t.Fatalf("render table: %v", err)
	}
	return buf.Bytes()
}
