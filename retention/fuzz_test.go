package retention

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// fuzzItems turns fuzz bytes into items, three bytes each: a name drawn
// from a small alphabet (so duplicates happen), an hour offset from a small
// range (so ties happen) and a zone (so instants are written differently).
func fuzzItems(data []byte) []Item {
	base := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	var items []Item
	for i := 0; i+3 <= len(data); i += 3 {
		name := fmt.Sprintf("app-%02x", data[i])
		instant := base.Add(time.Duration(data[i+1]%32) * time.Hour)
		zone := time.FixedZone("z", (int(data[i+2])%27-12)*3600)
		items = append(items, Item{Name: name, Time: instant.In(zone)})
	}
	return items
}

func FuzzKeepLast(f *testing.F) {
	f.Add([]byte{}, 3)
	f.Add([]byte{1, 1, 12, 2, 2, 12, 3, 3, 12}, 2)
	f.Add([]byte{1, 5, 0, 2, 5, 26, 3, 5, 13}, 1)   // ties across zones
	f.Add([]byte{1, 5, 0, 1, 6, 0}, 1)              // duplicate name
	f.Add([]byte{9, 1, 3, 8, 2, 4, 7, 3, 5}, 0)     // n = 0
	f.Add([]byte{9, 1, 3, 8, 2, 4, 7, 3, 5}, -7)    // negative n
	f.Add([]byte{9, 1, 3, 8, 2, 4, 7, 3, 5}, 1<<40) // huge n
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		items := fuzzItems(data)
		before := slices.Clone(items)
		got, err := KeepLast(items, n)
		if !slices.Equal(before, items) {
			t.Fatalf("KeepLast modified its input: before %v, after %v", before, items)
		}

		names := make(map[string]int, len(items))
		for _, it := range items {
			names[it.Name]++
		}
		dup := len(names) != len(items)
		if n < 1 || dup {
			if err == nil {
				t.Fatalf("KeepLast(%v, %d) = %v, nil; want an error (n < 1 or duplicate names)", items, n, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("KeepLast(%v, %d) error = %v, want nil", items, n, err)
		}

		// Every item appears exactly once.
		if len(got) != len(items) {
			t.Fatalf("KeepLast(%d items, %d) returned %d decisions, want %d", len(items), n, len(got), len(items))
		}
		for _, d := range got {
			names[d.Name]--
			if names[d.Name] < 0 {
				t.Fatalf("KeepLast(%v, %d): %q decided twice or not an input", items, n, d.Name)
			}
		}

		kept := 0
		for i, d := range got {
			if d.Keep {
				kept++
			}
			// Newest first, strictly: kept ones form a prefix, so they are
			// exactly the newest.
			if d.Keep != (i < n) {
				t.Fatalf("KeepLast(%v, %d)[%d].Keep = %v, want %v", items, n, i, d.Keep, i < n)
			}
			if i > 0 && newerFirst(got[i-1].Item, d.Item) >= 0 {
				t.Fatalf("KeepLast(%v, %d): %v listed before %v, want newest first", items, n, got[i-1].Item, d.Item)
			}
			if d.Reason == "" {
				t.Fatalf("KeepLast(%v, %d)[%d].Reason is empty", items, n, i)
			}
		}
		if want := min(n, len(items)); kept != want {
			t.Fatalf("KeepLast(%d items, %d) kept %d, want %d", len(items), n, kept, want)
		}
		// Independent of the sort order checked above: no dropped item is
		// newer than the oldest kept one.
		if kept > 0 && kept < len(got) {
			oldestKept := slices.MinFunc(got[:kept], func(a, b Decision) int { return a.Time.Compare(b.Time) })
			newestDropped := slices.MaxFunc(got[kept:], func(a, b Decision) int { return a.Time.Compare(b.Time) })
			if newestDropped.Time.After(oldestKept.Time) {
				t.Fatalf("KeepLast(%v, %d) dropped %v but kept older %v", items, n, newestDropped.Item, oldestKept.Item)
			}
		}
	})
}

func FuzzApply(f *testing.F) {
	f.Add([]byte{}, uint64(0), uint16(0))
	f.Add([]byte{1, 1, 12, 2, 2, 12, 3, 3, 12}, uint64(0x0102030405), uint16(3))
	f.Add([]byte{1, 5, 0, 2, 5, 26, 3, 5, 13}, uint64(0x0000000701), uint16(1)) // ties across zones
	f.Add([]byte{9, 1, 3, 8, 2, 4, 7, 3, 5}, uint64(0), uint16(40))             // max age alone
	f.Fuzz(func(t *testing.T, data []byte, counts uint64, maxAgeHours uint16) {
		items := fuzzItems(data)
		for i := range items {
			items[i].Pinned = items[i].Name[len(items[i].Name)-1] == '7'
		}
		// Six counts of 4 bits each: last, daily, weekly, monthly, yearly,
		// min keep; 0 to 15, so invalid policies (min keep 0, no rule) occur.
		c := func(i int) int { return int(counts >> (4 * i) & 0xf) }
		p := Policy{Last: c(0), Daily: c(1), Weekly: c(2), Monthly: c(3), Yearly: c(4), MinKeep: c(5),
			MaxAge: time.Duration(maxAgeHours) * time.Hour}
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		got, err := Apply(items, p, now)

		names := make(map[string]bool, len(items))
		for _, it := range items {
			names[it.Name] = true
		}
		if p.Validate() != nil || len(names) != len(items) {
			if err == nil {
				t.Fatalf("Apply(%v, %v) = %v, nil; want an error (invalid policy or duplicate names)", items, p, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("Apply(%v, %v) error = %v, want nil", items, p, err)
		}
		want := reference(items, p, now)
		kept := 0
		for i, d := range got {
			if d.Keep != want[d.Name] || d.Reason == "" || d.Pinned && !d.Keep || i == 0 && !d.Keep {
				t.Fatalf("Apply(%v, %v)[%d] = %+v, want keep = %v with a reason", items, p, i, d, want[d.Name])
			}
			if d.Keep {
				kept++
			}
		}
		if len(got) != len(items) || kept < min(p.MinKeep, len(items)) {
			t.Fatalf("Apply(%d items, %v) = %d decisions, %d kept; want %d, at least %d", len(items), p, len(got), kept, len(items), min(p.MinKeep, len(items)))
		}
	})
}
