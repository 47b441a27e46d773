package retention

import (
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zone cases must not depend on the host's zoneinfo

	"github.com/pgsnap/pgsnap/internal/invariants"

	"github.com/google/go-cmp/cmp"
)

func pinned(it Item) Item { it.Pinned = true; return it }

func TestApply(t *testing.T) {
	invariants.Fault(t, "T21")
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("LoadLocation: %v", err)
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	day := func(d int) Item { // 03:00 UTC on day d of November 2026
		return Item{Name: time.Date(2026, 11, d, 3, 0, 0, 0, time.UTC).Format("app-20060102T150405Z"),
			Time: time.Date(2026, 11, d, 3, 0, 0, 0, time.UTC)}
	}
	at := func(name, rfc3339 string) Item { return item(t, name, rfc3339) }

	d24a, d24b, d24c := at("d24a", "2026-11-24T03:00:00Z"), at("d24b", "2026-11-24T09:00:00Z"), at("d24c", "2026-11-24T15:00:00Z")
	d23a, d23b := at("d23a", "2026-11-23T03:00:00Z"), at("d23b", "2026-11-23T09:00:00Z")
	lateUTC, earlierUTC := at("late", "2026-11-24T23:30:00Z"), at("earlier", "2026-11-24T22:30:00Z")
	dec31, jan1, jan4 := at("thu", "2026-12-31T12:00:00Z"), at("fri", "2027-01-01T12:00:00Z"), at("mon", "2027-01-04T12:00:00Z")
	y25, jan15, feb1 := at("y25", "2025-12-31T12:00:00Z"), at("jan15", "2026-01-15T12:00:00Z"), at("feb1", "2026-02-01T12:00:00Z")
	tieA, tieB := at("tie-a", "2026-11-24T03:00:00Z"), at("tie-b", "2026-11-24T04:00:00+01:00")
	future := at("future", "2026-11-24T13:00:00Z")
	exactlyMaxAge := at("exact", "2026-11-22T12:00:00Z")

	tests := []struct {
		name  string
		items []Item
		p     Policy
		want  []Decision
	}{
		{
			name:  "empty input",
			p:     Policy{Daily: 7, MinKeep: 1},
			items: nil,
			want:  []Decision{},
		},
		{
			// 24 Nov 2026 is a Tuesday: W48 is 23-29 Nov, W47 16-22 Nov.
			name:  "daily and weekly",
			items: []Item{day(15), day(16), day(17), day(18), day(19), day(20), day(21), day(22), day(23), day(24)},
			p:     Policy{Daily: 3, Weekly: 2, MinKeep: 1},
			want: []Decision{
				keep(day(24), "daily 2026-11-24, weekly 2026-W48"),
				keep(day(23), "daily 2026-11-23"),
				keep(day(22), "daily 2026-11-22, weekly 2026-W47"),
				drop(day(21), "not the newest in a kept bucket"),
				drop(day(20), "not the newest in a kept bucket"),
				drop(day(19), "not the newest in a kept bucket"),
				drop(day(18), "not the newest in a kept bucket"),
				drop(day(17), "not the newest in a kept bucket"),
				drop(day(16), "not the newest in a kept bucket"),
				drop(day(15), "not the newest in a kept bucket"),
			},
		},
		{
			name:  "newest of each day",
			items: []Item{d23a, d24b, d24a, d23b, d24c},
			p:     Policy{Daily: 2, MinKeep: 1},
			want: []Decision{
				keep(d24c, "daily 2026-11-24"),
				drop(d24b, "not the newest in a kept bucket"),
				drop(d24a, "not the newest in a kept bucket"),
				keep(d23b, "daily 2026-11-23"),
				drop(d23a, "not the newest in a kept bucket"),
			},
		},
		{
			name:  "days without snapshots use no count",
			items: []Item{day(10), day(20), day(24), day(1)},
			p:     Policy{Daily: 3, MinKeep: 1},
			want: []Decision{
				keep(day(24), "daily 2026-11-24"),
				keep(day(20), "daily 2026-11-20"),
				keep(day(10), "daily 2026-11-10"),
				drop(day(1), "not the newest in a kept bucket"),
			},
		},
		{
			name:  "UTC day boundary",
			items: []Item{earlierUTC, lateUTC},
			p:     Policy{Daily: 2, MinKeep: 1},
			want: []Decision{
				keep(lateUTC, "daily 2026-11-24"),
				drop(earlierUTC, "not the newest in a kept bucket"),
			},
		},
		{
			// 23:30 UTC is 00:30 the next day in Berlin.
			name:  "Berlin day boundary",
			items: []Item{earlierUTC, lateUTC},
			p:     Policy{Daily: 2, MinKeep: 1, Location: berlin},
			want: []Decision{
				keep(lateUTC, "daily 2026-11-25"),
				keep(earlierUTC, "daily 2026-11-24"),
			},
		},
		{
			// Thursday 31 Dec 2026 and Friday 1 Jan 2027 share 2026-W53.
			name:  "ISO weeks across the year end",
			items: []Item{dec31, jan1, jan4},
			p:     Policy{Weekly: 3, MinKeep: 1},
			want: []Decision{
				keep(jan4, "weekly 2027-W01"),
				keep(jan1, "weekly 2026-W53"),
				drop(dec31, "not the newest in a kept bucket"),
			},
		},
		{
			name:  "monthly and yearly",
			items: []Item{y25, jan15, feb1},
			p:     Policy{Monthly: 2, Yearly: 2, MinKeep: 1},
			want: []Decision{
				keep(feb1, "monthly 2026-02, yearly 2026"),
				keep(jan15, "monthly 2026-01"),
				keep(y25, "yearly 2025"),
			},
		},
		{
			name:  "last and buckets name every rule",
			items: []Item{d23a, d24a, d24b},
			p:     Policy{Last: 2, Daily: 1, MinKeep: 1},
			want: []Decision{
				keep(d24b, "newest 2 (1 of 2), daily 2026-11-24"),
				keep(d24a, "newest 2 (2 of 2)"),
				drop(d23a, "beyond the newest 2, not the newest in a kept bucket"),
			},
		},
		{
			name:  "max age overrides buckets",
			items: []Item{day(21), day(22), day(23), day(24)},
			p:     Policy{Daily: 5, MaxAge: 48 * time.Hour, MinKeep: 1},
			want: []Decision{
				keep(day(24), "daily 2026-11-24"),
				keep(day(23), "daily 2026-11-23"),
				drop(day(22), "older than max age 48h0m0s, which overrides daily 2026-11-22"),
				drop(day(21), "older than max age 48h0m0s, which overrides daily 2026-11-21"),
			},
		},
		{
			name:  "the floor beats max age",
			items: []Item{day(1), day(2), day(3)},
			p:     Policy{Last: 5, MaxAge: 24 * time.Hour, MinKeep: 2},
			want: []Decision{
				keep(day(3), "min keep 1 of 2"),
				keep(day(2), "min keep 2 of 2"),
				drop(day(1), "older than max age 24h0m0s, which overrides newest 5 (3 of 5)"),
			},
		},
		{
			name:  "max age alone",
			items: []Item{day(22), day(24), day(23), exactlyMaxAge},
			p:     Policy{MaxAge: 48 * time.Hour, MinKeep: 1},
			want: []Decision{
				keep(day(24), "no older than max age 48h0m0s"),
				keep(day(23), "no older than max age 48h0m0s"),
				keep(exactlyMaxAge, "no older than max age 48h0m0s"),
				drop(day(22), "older than max age 48h0m0s"),
			},
		},
		{
			name:  "max age alone, all old",
			items: []Item{day(23), day(24)},
			p:     Policy{MaxAge: time.Hour, MinKeep: 1},
			want: []Decision{
				keep(day(24), "min keep 1 of 1"),
				drop(day(23), "older than max age 1h0m0s"),
			},
		},
		{
			name:  "a snapshot from the future is not old",
			items: []Item{future, day(24)},
			p:     Policy{MaxAge: time.Hour, MinKeep: 1},
			want: []Decision{
				keep(future, "no older than max age 1h0m0s"),
				drop(day(24), "older than max age 1h0m0s"),
			},
		},
		{
			name:  "the floor above the other counts",
			items: []Item{day(21), day(22), day(23), day(24)},
			p:     Policy{Last: 1, MinKeep: 3},
			want: []Decision{
				keep(day(24), "newest 1 (1 of 1)"),
				keep(day(23), "min keep 2 of 3"),
				keep(day(22), "min keep 3 of 3"),
				drop(day(21), "beyond the newest 1"),
			},
		},
		{
			name:  "pinned is never dropped, even when old",
			items: []Item{day(24), pinned(day(23)), day(22), pinned(day(1))},
			p:     Policy{Last: 1, MaxAge: 72 * time.Hour, MinKeep: 1},
			want: []Decision{
				keep(day(24), "newest 1 (1 of 1)"),
				keep(pinned(day(23)), "pinned"),
				drop(day(22), "beyond the newest 1"),
				keep(pinned(day(1)), "pinned"),
			},
		},
		{
			name:  "pinned items count in buckets",
			items: []Item{d24a, pinned(d24b)},
			p:     Policy{Daily: 1, MinKeep: 1},
			want: []Decision{
				keep(pinned(d24b), "pinned, daily 2026-11-24"),
				drop(d24a, "not the newest in a kept bucket"),
			},
		},
		{
			name:  "equal instants: the greater name is the newest of the day",
			items: []Item{tieB, tieA},
			p:     Policy{Daily: 1, MinKeep: 1},
			want: []Decision{
				keep(tieB, "daily 2026-11-24"),
				drop(tieA, "not the newest in a kept bucket"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			input := slices.Clone(tt.items)
			got, err := Apply(tt.items, tt.p, now)
			if err != nil {
				t.Fatalf("Apply(%d items, %v) error = %v, want nil", len(tt.items), tt.p, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Apply(%d items, %v) mismatch (-want +got):\n%s", len(tt.items), tt.p, diff)
			}
			if diff := cmp.Diff(input, tt.items); diff != "" {
				t.Errorf("Apply modified its input (-before +after):\n%s", diff)
			}
		})
	}
}

func TestKeepLastKeepsPinned(t *testing.T) {
	t.Parallel()
	a := item(t, "a", "2026-11-22T03:00:00Z")
	b := pinned(item(t, "b", "2026-11-23T03:00:00Z"))
	c := item(t, "c", "2026-11-24T03:00:00Z")
	got, err := KeepLast([]Item{a, b, c}, 1)
	if err != nil {
		t.Fatalf("KeepLast error = %v", err)
	}
	want := []Decision{keep(c, "newest 1 (1 of 1)"), keep(b, "pinned"), drop(a, "beyond the newest 1")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KeepLast(a, pinned b, c; 1) mismatch (-want +got):\n%s", diff)
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Policy
		want []string // substrings of the error, in order; nil for valid
	}{
		{"last", Policy{Last: 1, MinKeep: 1}, nil},
		{"max age alone", Policy{MaxAge: time.Hour, MinKeep: 1}, nil},
		{"yearly with a high floor", Policy{Yearly: 1, MinKeep: 5}, nil},
		{"zero policy", Policy{}, []string{"min keep 0: must be at least 1", "no rule: set last"}},
		{"floor alone", Policy{MinKeep: 1}, []string{"no rule"}},
		{"negative last", Policy{Last: -1, MinKeep: 1}, []string{"last -1: must not be negative"}},
		{"negative max age", Policy{Daily: 1, MaxAge: -time.Hour, MinKeep: 1}, []string{"max age -1h0m0s: must not be negative"}},
		{
			"every problem at once",
			Policy{Daily: -2, Weekly: -1, Monthly: -3, Yearly: -4, MaxAge: -time.Second},
			[]string{"daily -2", "weekly -1", "monthly -3", "yearly -4", "max age -1s", "min keep 0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Validate()
			if tt.want == nil {
				if err != nil {
					t.Errorf("%+v.Validate() = %v, want nil", tt.p, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%+v.Validate() = nil, want an error", tt.p)
			}
			msg, rest := err.Error(), err.Error()
			for _, want := range tt.want {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("%+v.Validate() = %q, want it to contain %q (in order)", tt.p, msg, want)
				}
				rest = rest[i+len(want):]
			}
			got, applyErr := Apply([]Item{{Name: "a"}}, tt.p, time.Time{})
			if applyErr == nil || got != nil || !strings.HasPrefix(applyErr.Error(), "apply policy ") ||
				!strings.Contains(applyErr.Error(), msg) {
				t.Errorf("Apply(%+v) = %v, %v; want nil and an error wrapping %q", tt.p, got, applyErr, msg)
			}
		})
	}
}

func TestApplyDuplicateNames(t *testing.T) {
	t.Parallel()
	a := item(t, "app-a", "2026-11-24T03:00:00Z")
	p := Policy{Daily: 7, MinKeep: 1}
	got, err := Apply([]Item{a, a}, p, time.Time{})
	want := `apply policy daily 7, min keep 1: duplicate snapshot name "app-a"`
	if err == nil || err.Error() != want || got != nil {
		t.Errorf("Apply(duplicate names) = %v, %v; want nil, %q", got, err, want)
	}
}

func TestPolicyString(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("LoadLocation: %v", err)
	}
	tests := []struct {
		p    Policy
		want string
	}{
		{Policy{Last: 7, MinKeep: 1}, "last 7, min keep 1"},
		{
			Policy{Last: 3, Daily: 7, Weekly: 4, Monthly: 12, Yearly: 2, MaxAge: 720 * time.Hour, MinKeep: 2, Location: berlin},
			"last 3, daily 7, weekly 4, monthly 12, yearly 2, max age 720h0m0s, min keep 2, zone Europe/Berlin",
		},
		{Policy{MaxAge: time.Hour, MinKeep: 1, Location: time.UTC}, "max age 1h0m0s, min keep 1"},
		{Policy{}, "min keep 0"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.String(); got != tt.want {
				t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
			}
		})
	}
}
