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
