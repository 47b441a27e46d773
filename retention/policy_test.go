package retention

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func item(t *testing.T, name, rfc3339 string) Item {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		t.Fatalf("bad time literal in test: %v", err)
	}
	return Item{Name: name, Time: ts}
}

func keep(it Item, reason string) Decision { return Decision{Item: it, Keep: true, Reason: reason} }
func drop(it Item, reason string) Decision { return Decision{Item: it, Keep: false, Reason: reason} }

func TestKeepLast(t *testing.T) {
	t.Parallel()
	d1 := item(t, "app-20261121T030000Z", "2026-11-21T03:00:00Z")
	d2 := item(t, "app-20261122T030000Z", "2026-11-22T03:00:00Z")
	d3 := item(t, "app-20261123T030000Z", "2026-11-23T03:00:00Z")
	d4 := item(t, "app-20261124T030000Z", "2026-11-24T03:00:00Z")

	// Same instant, so the name decides: "b" sorts after "a" and is "newer".
	tieA := item(t, "app-a", "2026-11-24T03:00:00Z")
	tieB := item(t, "app-b", "2026-11-24T03:00:00Z")
	// The same instant written in another zone still ties.
	tieC := item(t, "app-c", "2026-11-24T04:00:00+01:00")

	// Local times say z1 < z2 < z3 (09:00, 10:00, 11:00) but the instants
	// run the other way: z3 is 02:00 UTC, z2 04:00 UTC, z1 09:00 UTC.
	z1 := item(t, "z1", "2026-11-24T09:00:00Z")
	z2 := item(t, "z2", "2026-11-24T10:00:00+06:00")
	z3 := item(t, "z3", "2026-11-24T11:00:00+09:00")
	// Sub-second differences order too.
	s1 := item(t, "s1", "2026-11-24T03:00:00.000000001Z")
	s0 := item(t, "s0", "2026-11-24T03:00:00Z")

	tests := []struct {
		name  string
		items []Item
		n     int
		want  []Decision
	}{
		{
			name:  "empty input",
			items: nil,
			n:     3,
			want:  []Decision{},
		},
		{
			name:  "n equals len keeps all",
			items: []Item{d1, d2, d3},
			n:     3,
			want: []Decision{
				keep(d3, "newest 3 (1 of 3)"),
				keep(d2, "newest 3 (2 of 3)"),
				keep(d1, "newest 3 (3 of 3)"),
			},
		},
		{
			name:  "n above len keeps all",
			items: []Item{d1, d2},
			n:     7,
			want: []Decision{
				keep(d2, "newest 7 (1 of 7)"),
				keep(d1, "newest 7 (2 of 7)"),
			},
		},
		{
			name:  "huge n keeps all",
			items: []Item{d1},
			n:     1_000_000,
			want:  []Decision{keep(d1, "newest 1000000 (1 of 1000000)")},
		},
		{
			name:  "n = 1 keeps only the newest",
			items: []Item{d1, d2, d3, d4},
			n:     1,
			want: []Decision{
				keep(d4, "newest 1 (1 of 1)"),
				drop(d3, "beyond the newest 1"),
				drop(d2, "beyond the newest 1"),
				drop(d1, "beyond the newest 1"),
			},
		},
		{
			name:  "unsorted input",
			items: []Item{d2, d4, d1, d3},
			n:     2,
			want: []Decision{
				keep(d4, "newest 2 (1 of 2)"),
				keep(d3, "newest 2 (2 of 2)"),
				drop(d2, "beyond the newest 2"),
				drop(d1, "beyond the newest 2"),
			},
		},
		{
			name:  "ties broken by name descending",
			items: []Item{tieA, d1, tieC, tieB},
			n:     2,
			want: []Decision{
				keep(tieC, "newest 2 (1 of 2)"),
				keep(tieB, "newest 2 (2 of 2)"),
				drop(tieA, "beyond the newest 2"),
				drop(d1, "beyond the newest 2"),
			},
		},
		{
			name:  "several time zones order by instant",
			items: []Item{z1, z2, z3},
			n:     2,
			want: []Decision{
				keep(z1, "newest 2 (1 of 2)"),
				keep(z2, "newest 2 (2 of 2)"),
				drop(z3, "beyond the newest 2"),
			},
		},
		{
			name:  "one nanosecond apart",
			items: []Item{s1, s0},
			n:     1,
			want: []Decision{
				keep(s1, "newest 1 (1 of 1)"),
				drop(s0, "beyond the newest 1"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			input := slices.Clone(tt.items)
			got, err := KeepLast(tt.items, tt.n)
			if err != nil {
				t.Fatalf("KeepLast(%d items, %d) error = %v, want nil", len(tt.items), tt.n, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("KeepLast(%d items, %d) mismatch (-want +got):\n%s", len(tt.items), tt.n, diff)
			}
			if diff := cmp.Diff(input, tt.items); diff != "" {
				t.Errorf("KeepLast modified its input (-before +after):\n%s", diff)
			}
		})
	}
}

func TestKeepLastErrors(t *testing.T) {
	t.Parallel()
	a := item(t, "app-a", "2026-11-24T03:00:00Z")
	b := item(t, "app-b", "2026-11-25T03:00:00Z")
	aLater := item(t, "app-a", "2026-11-26T03:00:00Z")
	tests := []struct {
		name    string
		items   []Item
		n       int
		wantErr string
	}{
		{"n = 0 never means delete all", []Item{a, b}, 0, "keep last 0: n must be at least 1"},
		{"negative n", []Item{a, b}, -1, "keep last -1: n must be at least 1"},
		{"n = 0 on empty input", nil, 0, "keep last 0: n must be at least 1"},
		{"duplicate name", []Item{a, b, aLater}, 3, `keep last 3: duplicate snapshot name "app-a"`},
		{"duplicate empty name", []Item{{}, {}}, 1, `keep last 1: duplicate snapshot name ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := KeepLast(tt.items, tt.n)
			if err == nil {
				t.Fatalf("KeepLast(%d items, %d) = %v, want error %q", len(tt.items), tt.n, got, tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("KeepLast(%d items, %d) error = %q, want %q", len(tt.items), tt.n, err, tt.wantErr)
			}
			if got != nil {
				t.Errorf("KeepLast(%d items, %d) = %v with an error, want nil", len(tt.items), tt.n, got)
			}
		})
	}
}
