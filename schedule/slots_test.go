package schedule

import (
	"testing"
	"time"
	_ "time/tzdata" // zone cases must not depend on the host's zoneinfo

	"github.com/pgsnap/pgsnap/internal/invariants"
)

// utc builds a UTC instant; a test helper, so a bad literal is a test bug.
func utc(year int, month time.Month, day, hour, min, sec, nsec int) time.Time {
	return time.Date(year, month, day, hour, min, sec, nsec, time.UTC)
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q) error = %v", name, err)
	}
	return loc
}

func TestDailyNextPrev(t *testing.T) {
	invariants.Fault(t, "T24")
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	newYork := mustLoad(t, "America/New_York")
	plus1430 := time.FixedZone("UTC+14:30", 14*3600+30*60)
	minus11 := time.FixedZone("UTC-11", -11*3600)

	at0300 := Daily{Hour: 3}
	tests := []struct {
		name     string
		d        Daily
		t        time.Time
		wantNext time.Time
		wantPrev time.Time
	}{
		{
			name:     "one minute before the slot",
			d:        at0300,
			t:        utc(2026, 11, 24, 2, 59, 0, 0),
			wantNext: utc(2026, 11, 24, 3, 0, 0, 0),
			wantPrev: utc(2026, 11, 23, 3, 0, 0, 0),
		},
		{
			name:     "one nanosecond before the slot",
			d:        at0300,
			t:        utc(2026, 11, 24, 2, 59, 59, 999999999),
			wantNext: utc(2026, 11, 24, 3, 0, 0, 0),
			wantPrev: utc(2026, 11, 23, 3, 0, 0, 0),
		},
		{
			name:     "exactly at the slot",
			d:        at0300,
			t:        utc(2026, 11, 24, 3, 0, 0, 0),
			wantNext: utc(2026, 11, 25, 3, 0, 0, 0),
			wantPrev: utc(2026, 11, 24, 3, 0, 0, 0),
		},
		{
			name:     "one nanosecond after the slot",
			d:        at0300,
			t:        utc(2026, 11, 24, 3, 0, 0, 1),
			wantNext: utc(2026, 11, 25, 3, 0, 0, 0),
			wantPrev: utc(2026, 11, 24, 3, 0, 0, 0),
		},
		{
			name:     "half a second after the slot",
			d:        at0300,
			t:        utc(2026, 11, 24, 3, 0, 0, 500_000_000),
			wantNext: utc(2026, 11, 25, 3, 0, 0, 0),
			wantPrev: utc(2026, 11, 24, 3, 0, 0, 0),
		},
		{
			name:     "one minute after the slot",
			d:        at0300,
			t:        utc(2026, 11, 24, 3, 1, 0, 0),
			wantNext: utc(2026, 11, 25, 3, 0, 0, 0),
			wantPrev: utc(2026, 11, 24, 3, 0, 0, 0),
		},
		{
			name:     "midnight slot, exactly at midnight",
			d:        Daily{},
			t:        utc(2026, 11, 24, 0, 0, 0, 0),
			wantNext: utc(2026, 11, 25, 0, 0, 0, 0),
			wantPrev: utc(2026, 11, 24, 0, 0, 0, 0),
		},
		{
			name:     "midnight slot, just before midnight",
			d:        Daily{},
			t:        utc(2026, 11, 24, 23, 59, 59, 999999999),
			wantNext: utc(2026, 11, 25, 0, 0, 0, 0),
			wantPrev: utc(2026, 11, 24, 0, 0, 0, 0),
		},
		{
			name:     "23:59 slot, at midnight",
			d:        Daily{Hour: 23, Minute: 59},
			t:        utc(2026, 11, 24, 0, 0, 0, 0),
			wantNext: utc(2026, 11, 24, 23, 59, 0, 0),
			wantPrev: utc(2026, 11, 23, 23, 59, 0, 0),
		},
		{
			name:     "month end, 30-day month",
			d:        at0300,
			t:        utc(2026, 11, 30, 12, 0, 0, 0),
			wantNext: utc(2026, 12, 1, 3, 0, 0, 0),
			wantPrev: utc(2026, 11, 30, 3, 0, 0, 0),
		},
		{
			name:     "month start looking back",
			d:        at0300,
			t:        utc(2026, 12, 1, 1, 0, 0, 0),
			wantNext: utc(2026, 12, 1, 3, 0, 0, 0),
			wantPrev: utc(2026, 11, 30, 3, 0, 0, 0),
		},
		{
			name:     "year end",
			d:        at0300,
			t:        utc(2026, 12, 31, 3, 0, 0, 0),
			wantNext: utc(2027, 1, 1, 3, 0, 0, 0),
			wantPrev: utc(2026, 12, 31, 3, 0, 0, 0),
		},
		{
			name:     "new year looking back",
			d:        Daily{Hour: 23, Minute: 59},
			t:        utc(2027, 1, 1, 0, 0, 0, 0),
			wantNext: utc(2027, 1, 1, 23, 59, 0, 0),
			wantPrev: utc(2026, 12, 31, 23, 59, 0, 0),
		},
		{
			name:     "into 29 February 2028",
			d:        at0300,
			t:        utc(2028, 2, 28, 4, 0, 0, 0),
			wantNext: utc(2028, 2, 29, 3, 0, 0, 0),
			wantPrev: utc(2028, 2, 28, 3, 0, 0, 0),
		},
		{
			name:     "out of 29 February 2028",
			d:        at0300,
			t:        utc(2028, 2, 29, 3, 0, 0, 0),
			wantNext: utc(2028, 3, 1, 3, 0, 0, 0),
			wantPrev: utc(2028, 2, 29, 3, 0, 0, 0),
		},
		{
			name:     "back over 29 February 2028",
			d:        at0300,
			t:        utc(2028, 3, 1, 2, 0, 0, 0),
			wantNext: utc(2028, 3, 1, 3, 0, 0, 0),
			wantPrev: utc(2028, 2, 29, 3, 0, 0, 0),
		},
		{
			name:     "no 29 February in 2027",
			d:        at0300,
			t:        utc(2027, 2, 28, 4, 0, 0, 0),
			wantNext: utc(2027, 3, 1, 3, 0, 0, 0),
			wantPrev: utc(2027, 2, 28, 3, 0, 0, 0),
		},
		{
			// 04:00 in Berlin (UTC+1) is 03:00 UTC: exactly the slot,
			// although the local wall clock says 04:00.
			name:     "Berlin winter, exactly at the slot",
			d:        at0300,
			t:        time.Date(2026, 11, 24, 4, 0, 0, 0, berlin),
			wantNext: utc(2026, 11, 25, 3, 0, 0, 0),
			wantPrev: utc(2026, 11, 24, 3, 0, 0, 0),
		},
		{
			// 03:30 local is 01:30 UTC in summer (UTC+2): before the slot.
			name:     "Berlin summer, local wall clock past 03:00",
			d:        at0300,
			t:        time.Date(2026, 7, 1, 3, 30, 0, 0, berlin),
			wantNext: utc(2026, 7, 1, 3, 0, 0, 0),
			wantPrev: utc(2026, 6, 30, 3, 0, 0, 0),
		},
		{
			// Spring forward: 02:00-03:00 local does not exist; the slot
			// stays at 03:00 UTC (05:00 CEST).
			name:     "Berlin spring-forward day",
			d:        at0300,
			t:        time.Date(2026, 3, 29, 1, 59, 0, 0, berlin),
			wantNext: utc(2026, 3, 29, 3, 0, 0, 0),
			wantPrev: utc(2026, 3, 28, 3, 0, 0, 0),
		},
		{
			// 23:00 local on 24 Nov is 04:00 UTC on 25 Nov: the UTC day
			// counts, not the local one.
			name:     "New York evening is the next UTC day",
			d:        at0300,
			t:        time.Date(2026, 11, 24, 23, 0, 0, 0, newYork),
			wantNext: utc(2026, 11, 26, 3, 0, 0, 0),
			wantPrev: utc(2026, 11, 25, 3, 0, 0, 0),
		},
		{
			// 2027-01-01 10:00 at UTC+14:30 is still 2026-12-31 19:30 UTC.
			name:     "UTC+14:30 across the year end",
			d:        at0300,
			t:        time.Date(2027, 1, 1, 10, 0, 0, 0, plus1430),
			wantNext: utc(2027, 1, 1, 3, 0, 0, 0),
			wantPrev: utc(2026, 12, 31, 3, 0, 0, 0),
		},
		{
			// 28 Feb 2028 16:00 in UTC-11 is 29 Feb 03:00 UTC.
			name:     "UTC-11 lands on 29 February",
			d:        at0300,
			t:        time.Date(2028, 2, 28, 16, 0, 0, 0, minus11),
			wantNext: utc(2028, 3, 1, 3, 0, 0, 0),
			wantPrev: utc(2028, 2, 29, 3, 0, 0, 0),
		},
		{
			name:     "sub-second input in a zone",
			d:        Daily{Hour: 12, Minute: 30},
			t:        time.Date(2026, 11, 24, 13, 29, 59, 999_000_000, berlin),
			wantNext: utc(2026, 11, 24, 12, 30, 0, 0),
			wantPrev: utc(2026, 11, 23, 12, 30, 0, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next := tt.d.Next(tt.t)
			if !next.Equal(tt.wantNext) || next.Location() != time.UTC {
				t.Errorf("%v.Next(%v) = %v, want %v", tt.d, tt.t, next, tt.wantNext)
			}
			prev := tt.d.Prev(tt.t)
			if !prev.Equal(tt.wantPrev) || prev.Location() != time.UTC {
				t.Errorf("%v.Prev(%v) = %v, want %v", tt.d, tt.t, prev, tt.wantPrev)
			}
		})
	}
}

// A time from time.Now carries a monotonic reading; the slot must not, or
// two equal slots could compare or print differently.
func TestDailyStripsMonotonic(t *testing.T) {
	t.Parallel()
	now := time.Now()
	d := Daily{Hour: now.UTC().Hour(), Minute: now.UTC().Minute()}
	for name, got := range map[string]time.Time{"Next": d.Next(now), "Prev": d.Prev(now)} {
		if got != got.Round(0) {
			t.Errorf("%v.%s(now) = %v, want no monotonic clock reading", d, name, got)
		}
		if got.Location() != time.UTC {
			t.Errorf("%v.%s(now) location = %v, want UTC", d, name, got.Location())
		}
	}
}

// Next and Prev must stay total for a Daily built by hand with bad fields:
// the scheduler validates at start-up, but a library must not panic.
func TestDailyInvalidStillDaily(t *testing.T) {
	t.Parallel()
	base := utc(2026, 11, 24, 12, 0, 0, 0)
	for _, d := range []Daily{{Hour: 25}, {Hour: -1}, {Minute: 60}, {Hour: 1 << 40, Minute: -(1 << 40)}} {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			next, prev := d.Next(base), d.Prev(base)
			if !next.After(base) || next.Sub(base) > 24*time.Hour {
				t.Errorf("%+v.Next(%v) = %v, want within 24h after", d, base, next)
			}
			if prev.After(base) || base.Sub(prev) >= 24*time.Hour {
				t.Errorf("%+v.Prev(%v) = %v, want within 24h at or before", d, base, prev)
			}
		})
	}
}
