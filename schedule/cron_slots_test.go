package schedule

import (
	"sync"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
)

func TestCronNextPrev(t *testing.T) {
	invariants.Fault(t, "T24")
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	newYork := mustLoad(t, "America/New_York")
	lordHowe := mustLoad(t, "Australia/Lord_Howe") // 30-minute DST: +10:30 / +11
	saoPaulo := mustLoad(t, "America/Sao_Paulo")   // had DST starting at midnight
	kathmandu := mustLoad(t, "Asia/Kathmandu")     // +05:45

	tests := []struct {
		name     string
		expr     string
		loc      *time.Location
		t        time.Time
		wantNext time.Time
		wantPrev time.Time
	}{
		{
			name: "one nanosecond before the slot", expr: "30 2 * * *", loc: time.UTC,
			t:        utc(2026, 11, 24, 2, 29, 59, 999999999),
			wantNext: utc(2026, 11, 24, 2, 30, 0, 0), wantPrev: utc(2026, 11, 23, 2, 30, 0, 0),
		},
		{
			name: "exactly at the slot", expr: "30 2 * * *", loc: time.UTC,
			t:        utc(2026, 11, 24, 2, 30, 0, 0),
			wantNext: utc(2026, 11, 25, 2, 30, 0, 0), wantPrev: utc(2026, 11, 24, 2, 30, 0, 0),
		},
		{
			name: "one nanosecond after the slot", expr: "30 2 * * *", loc: time.UTC,
			t:        utc(2026, 11, 24, 2, 30, 0, 1),
			wantNext: utc(2026, 11, 25, 2, 30, 0, 0), wantPrev: utc(2026, 11, 24, 2, 30, 0, 0),
		},
		{
			name: "@hourly across midnight", expr: "@hourly", loc: time.UTC,
			t:        utc(2026, 11, 24, 23, 59, 59, 0),
			wantNext: utc(2026, 11, 25, 0, 0, 0, 0), wantPrev: utc(2026, 11, 24, 23, 0, 0, 0),
		},
		{
			name: "every 15 minutes", expr: "*/15 * * * *", loc: time.UTC,
			t:        utc(2026, 11, 24, 10, 7, 0, 0),
			wantNext: utc(2026, 11, 24, 10, 15, 0, 0), wantPrev: utc(2026, 11, 24, 10, 0, 0, 0),
		},
		{
			name: "value with step", expr: "5/20 * * * *", loc: time.UTC,
			t:        utc(2026, 11, 24, 10, 46, 0, 0),
			wantNext: utc(2026, 11, 24, 11, 5, 0, 0), wantPrev: utc(2026, 11, 24, 10, 45, 0, 0),
		},
		{
			name: "range with step on weekdays, Friday evening", expr: "0 9-17/2 * * MON-FRI", loc: time.UTC,
			t:        utc(2026, 11, 27, 17, 30, 0, 0),
			wantNext: utc(2026, 11, 30, 9, 0, 0, 0), wantPrev: utc(2026, 11, 27, 17, 0, 0, 0),
		},
		{
			name: "hour range wrapping midnight", expr: "0 22-2 * * *", loc: time.UTC,
			t:        utc(2026, 11, 24, 3, 0, 0, 0),
			wantNext: utc(2026, 11, 24, 22, 0, 0, 0), wantPrev: utc(2026, 11, 24, 2, 0, 0, 0),
		},
		{
			name: "list of minutes and hours", expr: "0,30 1,13 * * *", loc: time.UTC,
			t:        utc(2026, 11, 24, 13, 15, 0, 0),
			wantNext: utc(2026, 11, 24, 13, 30, 0, 0), wantPrev: utc(2026, 11, 24, 13, 0, 0, 0),
		},
		{
			name: "29 February from a common year", expr: "0 0 29 2 *", loc: time.UTC,
			t:        utc(2026, 11, 24, 0, 0, 0, 0),
			wantNext: utc(2028, 2, 29, 0, 0, 0, 0), wantPrev: utc(2024, 2, 29, 0, 0, 0, 0),
		},
		{
			name: "29 February across 2100, not a leap year", expr: "0 0 29 2 *", loc: time.UTC,
			t:        utc(2100, 6, 1, 0, 0, 0, 0),
			wantNext: utc(2104, 2, 29, 0, 0, 0, 0), wantPrev: utc(2096, 2, 29, 0, 0, 0, 0),
		},
		{
			name: "29 February exactly at the slot", expr: "0 0 29 2 *", loc: time.UTC,
			t:        utc(2028, 2, 29, 0, 0, 0, 0),
			wantNext: utc(2032, 2, 29, 0, 0, 0, 0), wantPrev: utc(2028, 2, 29, 0, 0, 0, 0),
		},
		{
			name: "day 31 skips short months", expr: "0 0 31 * *", loc: time.UTC,
			t:        utc(2026, 11, 24, 0, 0, 0, 0),
			wantNext: utc(2026, 12, 31, 0, 0, 0, 0), wantPrev: utc(2026, 10, 31, 0, 0, 0, 0),
		},
		{
			name: "@monthly across the year end", expr: "@monthly", loc: time.UTC,
			t:        utc(2026, 12, 31, 23, 0, 0, 0),
			wantNext: utc(2027, 1, 1, 0, 0, 0, 0), wantPrev: utc(2026, 12, 1, 0, 0, 0, 0),
		},
		{
			name: "@yearly", expr: "@yearly", loc: time.UTC,
			t:        utc(2026, 11, 24, 0, 0, 0, 0),
			wantNext: utc(2027, 1, 1, 0, 0, 0, 0), wantPrev: utc(2026, 1, 1, 0, 0, 0, 0),
		},
		{
			name: "@weekly is Sunday midnight", expr: "@weekly", loc: time.UTC,
			t:        utc(2026, 11, 24, 0, 0, 0, 0), // a Tuesday
			wantNext: utc(2026, 11, 29, 0, 0, 0, 0), wantPrev: utc(2026, 11, 22, 0, 0, 0, 0),
		},
		{
			name: "7 is Sunday", expr: "0 3 * * 7", loc: time.UTC,
			t:        utc(2026, 11, 24, 0, 0, 0, 0),
			wantNext: utc(2026, 11, 29, 3, 0, 0, 0), wantPrev: utc(2026, 11, 22, 3, 0, 0, 0),
		},
		{
			name: "both day fields: Monday or the 1st, Monday first", expr: "0 3 1 * MON", loc: time.UTC,
			t:        utc(2026, 11, 24, 0, 0, 0, 0),
			wantNext: utc(2026, 11, 30, 3, 0, 0, 0), wantPrev: utc(2026, 11, 23, 3, 0, 0, 0),
		},
		{
			name: "both day fields: Monday or the 1st, the 1st next", expr: "0 3 1 * MON", loc: time.UTC,
			t:        utc(2026, 11, 30, 4, 0, 0, 0),
			wantNext: utc(2026, 12, 1, 3, 0, 0, 0), wantPrev: utc(2026, 11, 30, 3, 0, 0, 0),
		},
		{
			// 02:00 CET jumps to 03:00 CEST at 01:00 UTC: 02:30 does not
			// exist and runs at the first valid instant, 03:00 CEST.
			name: "Berlin spring forward, before the gap", expr: "30 2 * * *", loc: berlin,
			t:        utc(2026, 3, 29, 0, 0, 0, 0),
			wantNext: utc(2026, 3, 29, 1, 0, 0, 0), wantPrev: utc(2026, 3, 28, 1, 30, 0, 0),
		},
		{
			name: "Berlin spring forward, at the moved slot", expr: "30 2 * * *", loc: berlin,
			t:        utc(2026, 3, 29, 1, 0, 0, 0),
			wantNext: utc(2026, 3, 30, 0, 30, 0, 0), wantPrev: utc(2026, 3, 29, 1, 0, 0, 0),
		},
		{
			name: "Berlin spring forward, 03:00 exists", expr: "0 3 * * *", loc: berlin,
			t:        utc(2026, 3, 29, 0, 59, 0, 0),
			wantNext: utc(2026, 3, 29, 1, 0, 0, 0), wantPrev: utc(2026, 3, 28, 2, 0, 0, 0),
		},
		{
			// 02:00, 02:30 and 03:00 all fall on 03:00 CEST: one slot.
			name: "Berlin spring forward, every 30 minutes", expr: "*/30 * * * *", loc: berlin,
			t:        utc(2026, 3, 29, 0, 45, 0, 0),
			wantNext: utc(2026, 3, 29, 1, 0, 0, 0), wantPrev: utc(2026, 3, 29, 0, 30, 0, 0),
		},
		{
			name: "Berlin spring forward, every 30 minutes, after the gap", expr: "*/30 * * * *", loc: berlin,
			t:        utc(2026, 3, 29, 1, 0, 0, 0),
			wantNext: utc(2026, 3, 29, 1, 30, 0, 0), wantPrev: utc(2026, 3, 29, 1, 0, 0, 0),
		},
		{
			// 03:00 CEST falls back to 02:00 CET at 01:00 UTC: 02:30 CEST
			// (00:30 UTC) runs, 02:30 CET (01:30 UTC) does not.
			name: "Berlin fall back, first 02:30", expr: "30 2 * * *", loc: berlin,
			t:        utc(2026, 10, 25, 0, 30, 0, 0),
			wantNext: utc(2026, 10, 26, 1, 30, 0, 0), wantPrev: utc(2026, 10, 25, 0, 30, 0, 0),
		},
		{
			name: "Berlin fall back, second 02:30", expr: "30 2 * * *", loc: berlin,
			t:        utc(2026, 10, 25, 1, 30, 0, 0),
			wantNext: utc(2026, 10, 26, 1, 30, 0, 0), wantPrev: utc(2026, 10, 25, 0, 30, 0, 0),
		},
		{
			name: "Berlin fall back, hourly pauses in the repeated hour", expr: "0 * * * *", loc: berlin,
			t:        utc(2026, 10, 25, 1, 15, 0, 0),
			wantNext: utc(2026, 10, 25, 2, 0, 0, 0), wantPrev: utc(2026, 10, 25, 0, 0, 0, 0),
		},
		{
			// 02:00 EDT falls back to 01:00 EST at 06:00 UTC.
			name: "New York fall back, before the first 01:30", expr: "30 1 * * *", loc: newYork,
			t:        utc(2026, 11, 1, 5, 0, 0, 0),
			wantNext: utc(2026, 11, 1, 5, 30, 0, 0), wantPrev: utc(2026, 10, 31, 5, 30, 0, 0),
		},
		{
			name: "New York fall back, in the repeated hour", expr: "30 1 * * *", loc: newYork,
			t:        utc(2026, 11, 1, 6, 0, 0, 0),
			wantNext: utc(2026, 11, 2, 6, 30, 0, 0), wantPrev: utc(2026, 11, 1, 5, 30, 0, 0),
		},
		{
			// 02:00 EST jumps to 03:00 EDT at 07:00 UTC.
			name: "New York spring forward", expr: "30 2 * * *", loc: newYork,
			t:        utc(2026, 3, 8, 6, 59, 0, 0),
			wantNext: utc(2026, 3, 8, 7, 0, 0, 0), wantPrev: utc(2026, 3, 7, 7, 30, 0, 0),
		},
		{
			// 02:00 +10:30 jumps to 02:30 +11 at 15:30 UTC the day before.
			name: "Lord Howe spring forward, half-hour gap", expr: "15 2 * * *", loc: lordHowe,
			t:        utc(2026, 10, 3, 15, 0, 0, 0),
			wantNext: utc(2026, 10, 3, 15, 30, 0, 0), wantPrev: utc(2026, 10, 2, 15, 45, 0, 0),
		},
		{
			// 02:00 +11 falls back to 01:30 +10:30 at 15:00 UTC.
			name: "Lord Howe fall back, second 01:45", expr: "45 1 * * *", loc: lordHowe,
			t:        utc(2026, 4, 4, 15, 15, 0, 0),
			wantNext: utc(2026, 4, 5, 15, 15, 0, 0), wantPrev: utc(2026, 4, 4, 14, 45, 0, 0),
		},
		{
			// Midnight did not exist: 00:00 -03 jumped to 01:00 -02.
			name: "São Paulo 2018, DST starting at midnight", expr: "0 0 * * *", loc: saoPaulo,
			t:        utc(2018, 11, 4, 2, 0, 0, 0),
			wantNext: utc(2018, 11, 4, 3, 0, 0, 0), wantPrev: utc(2018, 11, 3, 3, 0, 0, 0),
		},
		{
			name: "Kathmandu, a 45-minute offset", expr: "0 0 * * *", loc: kathmandu,
			t:        utc(2026, 11, 24, 0, 0, 0, 0),
			wantNext: utc(2026, 11, 24, 18, 15, 0, 0), wantPrev: utc(2026, 11, 23, 18, 15, 0, 0),
		},
		{
			name: "input in another zone than the schedule", expr: "0 3 * * *", loc: berlin,
			t:        time.Date(2026, 11, 24, 21, 0, 0, 0, newYork), // 03:00 CET on the 25th
			wantNext: utc(2026, 11, 26, 2, 0, 0, 0), wantPrev: utc(2026, 11, 25, 2, 0, 0, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustCron(t, tt.expr, tt.loc)
			next := c.Next(tt.t)
			if !next.Equal(tt.wantNext) || next.Location() != time.UTC {
				t.Errorf("ParseCron(%q, %v).Next(%v) = %v, want %v", tt.expr, tt.loc, tt.t, next, tt.wantNext)
			}
			prev := c.Prev(tt.t)
			if !prev.Equal(tt.wantPrev) || prev.Location() != time.UTC {
				t.Errorf("ParseCron(%q, %v).Prev(%v) = %v, want %v", tt.expr, tt.loc, tt.t, prev, tt.wantPrev)
			}
		})
	}
}

// TestCronRunsOnceOnDSTDays counts the slots on the local calendar day of
// each DST change: every named wall-clock time runs exactly once.
func TestCronRunsOnceOnDSTDays(t *testing.T) {
	invariants.Fault(t, "T24")
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	newYork := mustLoad(t, "America/New_York")
	lordHowe := mustLoad(t, "Australia/Lord_Howe")
	tests := []struct {
		name string
		expr string
		loc  *time.Location
		day  time.Time // local midnight
		want int
	}{
		{"Berlin spring forward 02:30", "30 2 * * *", berlin, time.Date(2026, 3, 29, 0, 0, 0, 0, berlin), 1},
		{"Berlin fall back 02:30", "30 2 * * *", berlin, time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), 1},
		{"New York fall back 01:30", "30 1 * * *", newYork, time.Date(2026, 11, 1, 0, 0, 0, 0, newYork), 1},
		{"New York spring forward 02:30", "30 2 * * *", newYork, time.Date(2026, 3, 8, 0, 0, 0, 0, newYork), 1},
		{"Lord Howe spring forward 02:15", "15 2 * * *", lordHowe, time.Date(2026, 10, 4, 0, 0, 0, 0, lordHowe), 1},
		{"Lord Howe fall back 01:45", "45 1 * * *", lordHowe, time.Date(2026, 4, 5, 0, 0, 0, 0, lordHowe), 1},
		// 24 named hours; 02:00 is skipped and shares the 03:00 slot.
		{"Berlin spring forward hourly", "0 * * * *", berlin, time.Date(2026, 3, 29, 0, 0, 0, 0, berlin), 23},
		// 24 named hours; the repeated 02:00 runs once.
		{"Berlin fall back hourly", "0 * * * *", berlin, time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustCron(t, tt.expr, tt.loc)
			end := tt.day.AddDate(0, 0, 1)
			var slots []time.Time
			for s := c.Next(tt.day.Add(-time.Nanosecond)); s.Before(end); s = c.Next(s) {
				slots = append(slots, s)
			}
			if len(slots) != tt.want {
				t.Errorf("ParseCron(%q, %v) slots on %s = %v, want %d", tt.expr, tt.loc, tt.day.Format(time.DateOnly), slots, tt.want)
			}
		})
	}
}

func TestInterval(t *testing.T) {
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	tests := []struct {
		name string
		s    Schedule
		at   time.Time
		want time.Duration
	}{
		{"daily", Daily{Hour: 3}, utc(2026, 11, 24, 12, 0, 0, 0), 24 * time.Hour},
		{"daily at the slot", Daily{Hour: 3}, utc(2026, 11, 24, 3, 0, 0, 0), 24 * time.Hour},
		{"hourly cron", mustCron(t, "@hourly", nil), utc(2026, 11, 24, 12, 30, 0, 0), time.Hour},
		{"daily cron, ordinary Berlin day", mustCron(t, "30 2 * * *", berlin), utc(2026, 11, 24, 12, 0, 0, 0), 24 * time.Hour},
		// 03:00 CEST (the moved 02:30) to 02:30 CEST the next day.
		{"daily cron, Berlin spring forward", mustCron(t, "30 2 * * *", berlin), utc(2026, 3, 29, 12, 0, 0, 0), 23*time.Hour + 30*time.Minute},
		{"daily cron, Berlin fall back", mustCron(t, "30 2 * * *", berlin), utc(2026, 10, 25, 12, 0, 0, 0), 25 * time.Hour},
		{"hourly cron, Berlin repeated hour", mustCron(t, "0 * * * *", berlin), utc(2026, 10, 25, 1, 15, 0, 0), 2 * time.Hour},
		{"monthly cron, February", mustCron(t, "@monthly", nil), utc(2026, 2, 10, 0, 0, 0, 0), 28 * 24 * time.Hour},
		{"leap days", mustCron(t, "0 0 29 2 *", nil), utc(2100, 1, 1, 0, 0, 0, 0), (8*365 + 1) * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Interval(tt.s, tt.at); got != tt.want {
				t.Errorf("Interval(%v, %v) = %v, want %v", tt.s, tt.at, got, tt.want)
			}
		})
	}
}

// A time from time.Now carries a monotonic reading; slots must not.
func TestCronStripsMonotonic(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := mustCron(t, "*/5 * * * *", mustLoad(t, "Europe/Berlin"))
	for name, got := range map[string]time.Time{"Next": c.Next(now), "Prev": c.Prev(now)} {
		if got != got.Round(0) {
			t.Errorf("%v.%s(now) = %v, want no monotonic clock reading", c, name, got)
		}
		if got.Location() != time.UTC {
			t.Errorf("%v.%s(now) location = %v, want UTC", c, name, got.Location())
		}
	}
}

// A Cron is documented as safe for concurrent use; -race checks that
// Next and Prev only read it.
func TestCronConcurrentUse(t *testing.T) {
	t.Parallel()
	c := mustCron(t, "*/10 1-3 * * *", mustLoad(t, "Europe/Berlin"))
	base := utc(2026, 10, 24, 20, 0, 0, 0)
	want := make([]time.Time, 100)
	for i := range want {
		want[i] = c.Next(base.Add(time.Duration(i) * 7 * time.Minute))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i, w := range want {
				at := base.Add(time.Duration(i) * 7 * time.Minute)
				if got := c.Next(at); !got.Equal(w) {
					t.Errorf("concurrent Next(%v) = %v, want %v", at, got, w)
				}
				c.Prev(at)
			}
		})
	}
	wg.Wait()
}
