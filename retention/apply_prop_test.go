package retention

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// randomCase draws items whose times cluster (so days, weeks and months
// hold several, and instants tie), a few pinned, and a valid policy.
func randomCase(r *rand.Rand, zones []*time.Location) ([]Item, Policy, time.Time) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	items := make([]Item, r.IntN(60))
	for i := range items {
		// Up to about three years back, on a 6-hour grid so ties happen.
		age := time.Duration(r.IntN(3*365*4)) * 6 * time.Hour
		if r.IntN(10) == 0 {
			age = -age / 100 // a clock ahead of now
		}
		items[i] = Item{
			Name:   fmt.Sprintf("app-%03d", i),
			Time:   now.Add(-age).In(zones[r.IntN(len(zones))]),
			Pinned: r.IntN(15) == 0,
		}
	}
	n := func() int {
		if r.IntN(3) == 0 {
			return 0
		}
		return r.IntN(8)
	}
	p := Policy{Last: n(), Daily: n(), Weekly: n(), Monthly: n(), Yearly: n(), MinKeep: 1 + r.IntN(4),
		Location: zones[r.IntN(len(zones))]}
	if r.IntN(3) == 0 {
		p.MaxAge = time.Duration(1+r.IntN(800)) * 24 * time.Hour
	}
	if p.countsZero() && p.MaxAge == 0 {
		p.Last = 1
	}
	return items, p, now
}

// reference computes which items p keeps, written apart from Apply: for
// each bucket rule, group by period, take the newest period keys and the
// newest item of each.
func reference(items []Item, p Policy, now time.Time) map[string]bool {
	sorted := slices.Clone(items)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.After(b.Time)
		}
		return a.Name > b.Name
	})
	loc := p.location()
	selected := map[string]bool{}
	for i, it := range sorted {
		if i < p.Last {
			selected[it.Name] = true
		}
	}
	periods := []struct {
		n      int
		layout func(time.Time) string
	}{
		{p.Daily, func(t time.Time) string { return t.Format(time.DateOnly) }},
		{p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d/%02d", y, w) }},
		{p.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
		{p.Yearly, func(t time.Time) string { return t.Format("2006") }},
	}
	for _, period := range periods {
		newest := map[string]Item{}
		for _, it := range items {
			k := period.layout(it.Time.In(loc))
			if cur, ok := newest[k]; !ok || newerFirst(it, cur) < 0 {
				newest[k] = it
			}
		}
		keys := make([]string, 0, len(newest))
		for k := range newest {
			keys = append(keys, k)
		}
		sort.Sort(sort.Reverse(sort.StringSlice(keys)))
		for _, k := range keys[:min(period.n, len(keys))] {
			selected[newest[k].Name] = true
		}
	}
	keep := map[string]bool{}
	for i, it := range sorted {
		young := p.MaxAge == 0 || now.Sub(it.Time) <= p.MaxAge
		keep[it.Name] = it.Pinned || i < p.MinKeep || young && (selected[it.Name] || p.countsZero())
	}
	return keep
}

func TestApplyProperties(t *testing.T) {
	t.Parallel()
	var zones []*time.Location
	for _, name := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatalf("LoadLocation: %v", err)
		}
		zones = append(zones, loc)
	}
	r := rand.New(rand.NewPCG(2026, 11))
	for trial := range 3000 {
		items, p, now := randomCase(r, zones)
		input := slices.Clone(items)
		got, err := Apply(items, p, now)
		if err != nil {
			t.Fatalf("trial %d: Apply(%d items, %v) error = %v", trial, len(items), p, err)
		}
		if !slices.EqualFunc(input, items, sameItem) {
			t.Fatalf("trial %d: Apply modified its input (-before +after):\n%s", trial, cmp.Diff(input, items))
		}
		if len(got) != len(items) {
			t.Fatalf("trial %d: Apply(%d items) returned %d decisions", trial, len(items), len(got))
		}

		want := reference(items, p, now)
		var kept []Item
		for i, d := range got {
			if i > 0 && newerFirst(got[i-1].Item, d.Item) >= 0 {
				t.Fatalf("trial %d: %v listed before %v, want newest first", trial, got[i-1].Item, d.Item)
			}
			if d.Reason == "" {
				t.Fatalf("trial %d: %v has no reason", trial, d)
			}
			if d.Keep != want[d.Name] {
				t.Fatalf("trial %d: Apply(%v) decided %+v, the reference says keep = %v", trial, p, d, want[d.Name])
			}
			if d.Pinned && !d.Keep {
				t.Fatalf("trial %d: pinned %v dropped", trial, d.Item)
			}
			if d.Keep {
				kept = append(kept, d.Item)
			}
		}
		if len(got) > 0 && !got[0].Keep {
			t.Fatalf("trial %d: Apply(%v) dropped the newest item %v", trial, p, got[0])
		}
		if floor := min(p.MinKeep, len(items)); len(kept) < floor {
			t.Fatalf("trial %d: Apply(%v) kept %d of %d, below the floor %d", trial, p, len(kept), len(items), floor)
		}

		// Idempotent: the kept items, applied again, are all kept.
		again, err := Apply(kept, p, now)
		if err != nil {
			t.Fatalf("trial %d: Apply(kept) error = %v", trial, err)
		}
		for _, d := range again {
			if !d.Keep {
				t.Fatalf("trial %d: Apply(%v) on its own kept set dropped %+v", trial, p, d)
			}
		}

		// Order-independent: shuffled input, same decisions.
		shuffled := slices.Clone(items)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		reordered, err := Apply(shuffled, p, now)
		if err != nil {
			t.Fatalf("trial %d: Apply(shuffled) error = %v", trial, err)
		}
		if !slices.EqualFunc(got, reordered, sameDecision) {
			t.Fatalf("trial %d: Apply depends on input order (-sorted +shuffled):\n%s", trial, cmp.Diff(got, reordered))
		}
	}
}

// sameItem and sameDecision compare as cmp.Diff does, only faster: the
// property loop runs thousands of times and cmp is only needed to explain.
func sameItem(a, b Item) bool {
	return a.Name == b.Name && a.Time.Equal(b.Time) && a.Pinned == b.Pinned
}

func sameDecision(a, b Decision) bool {
	return sameItem(a.Item, b.Item) && a.Keep == b.Keep && a.Reason == b.Reason
}
