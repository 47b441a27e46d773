package schedule

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bruteSlots simulates, independently of Cron, a daemon that reads the
// zone's wall clock every minute from t0 (exclusive) to t1 and runs when a
// matching wall-clock minute has come since the highest reading it saw
// before. That is the documented DST rule: a skipped time runs at the end
// of the gap, a repeated one only the first time. t0 must be a whole
// minute and not within a repeated hour.
func bruteSlots(match func(time.Time) bool, loc *time.Location, t0, t1 time.Time) []time.Time {
	civil := func(i time.Time) time.Time {
		l := i.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)
	}
	high := civil(t0)
	var slots []time.Time
	for i := t0.Add(time.Minute); !i.After(t1); i = i.Add(time.Minute) {
		r := civil(i)
		for w := high.Add(time.Minute); !w.After(r); w = w.Add(time.Minute) {
			if match(w) {
				slots = append(slots, i)
				break
			}
		}
		if r.After(high) {
			high = r
		}
	}
	return slots
}

// checkAgainstBrute compares c's Next and Prev with the simulated slots in
// (t0, t1] at points every 29 minutes and around each slot.
func checkAgainstBrute(t *testing.T, c Cron, match func(time.Time) bool, t0, t1 time.Time) {
	t.Helper()
	want := bruteSlots(match, c.Location(), t0, t1)
	points := []time.Time{t0}
	for p := t0; p.Before(t1); p = p.Add(29 * time.Minute) {
		points = append(points, p)
	}
	// Around every slot where they are few, around a sample where they
	// are many (every minute for weeks would take minutes under -race).
	for i := 0; i < len(want); i += 1 + len(want)/150 {
		s := want[i]
		points = append(points, s.Add(-time.Minute), s.Add(-time.Nanosecond), s, s.Add(time.Nanosecond), s.Add(30*time.Second))
	}
	failures := 0
	for _, p := range points {
		if p.Before(t0) || !p.Before(t1) {
			continue
		}
		i, _ := slices.BinarySearchFunc(want, p, time.Time.Compare) // first slot >= p
		next, prev := c.Next(p), c.Prev(p)
		if j := i; j < len(want) && want[j].Equal(p) {
			j++ // Next is strictly after p
			if j < len(want) && !next.Equal(want[j]) || j == len(want) && !next.After(t1) {
				t.Errorf("ParseCron(%q, %v).Next(%v) = %v, want the slot after it", c, c.Location(), p, next)
				failures++
			}
			if !prev.Equal(p) {
				t.Errorf("ParseCron(%q, %v).Prev(%v) = %v, want the slot itself", c, c.Location(), p, prev)
				failures++
			}
		} else {
			if i < len(want) && !next.Equal(want[i]) || i == len(want) && !next.After(t1) {
				t.Errorf("ParseCron(%q, %v).Next(%v) = %v, want %v", c, c.Location(), p, next, sliceAt(want, i))
				failures++
			}
			if i > 0 && !prev.Equal(want[i-1]) || i == 0 && prev.After(t0) {
				t.Errorf("ParseCron(%q, %v).Prev(%v) = %v, want %v", c, c.Location(), p, prev, sliceAt(want, i-1))
				failures++
			}
		}
		if failures > 5 {
			t.Fatalf("too many failures; brute-force slots: %v", want)
		}
	}
}

func sliceAt(s []time.Time, i int) any {
	if i < 0 || i >= len(s) {
		return "none in the window"
	}
	return s[i]
}

// TestCronBruteForce checks hand-written expressions against hand-written
// matchers, minute by minute, over weeks around DST changes.
func TestCronBruteForce(t *testing.T) {
	t.Parallel()
	exprs := []struct {
		expr  string
		match func(w time.Time) bool
	}{
		{"30 2 * * *", func(w time.Time) bool { return w.Hour() == 2 && w.Minute() == 30 }},
		{"30 1 * * *", func(w time.Time) bool { return w.Hour() == 1 && w.Minute() == 30 }},
		{"15 2 * * *", func(w time.Time) bool { return w.Hour() == 2 && w.Minute() == 15 }},
		{"45 1 * * *", func(w time.Time) bool { return w.Hour() == 1 && w.Minute() == 45 }},
		{"0 0 * * *", func(w time.Time) bool { return w.Hour() == 0 && w.Minute() == 0 }},
		{"0 * * * *", func(w time.Time) bool { return w.Minute() == 0 }},
		{"*/15 * * * *", func(w time.Time) bool { return w.Minute()%15 == 0 }},
		{"*/20 1-3 * * *", func(w time.Time) bool { return w.Minute()%20 == 0 && w.Hour() >= 1 && w.Hour() <= 3 }},
		{"0 22-2 * * *", func(w time.Time) bool { return w.Minute() == 0 && (w.Hour() >= 22 || w.Hour() <= 2) }},
		{"0 3 1 * MON", func(w time.Time) bool {
			return w.Hour() == 3 && w.Minute() == 0 && (w.Day() == 1 || w.Weekday() == time.Monday)
		}},
		{"0 9-17/2 * * MON-FRI", func(w time.Time) bool {
			return w.Minute() == 0 && w.Hour() >= 9 && w.Hour() <= 17 && w.Hour()%2 == 1 && w.Weekday() >= time.Monday && w.Weekday() <= time.Friday
		}},
	}
	windows := []struct {
		zone string
		day  time.Time // a day with a DST change (or none), in UTC
	}{
		{"UTC", utc(2028, 2, 28, 0, 0, 0, 0)},
		{"Asia/Kathmandu", utc(2026, 11, 24, 0, 0, 0, 0)},
		{"Europe/Berlin", utc(2026, 3, 29, 0, 0, 0, 0)},
		{"Europe/Berlin", utc(2026, 10, 25, 0, 0, 0, 0)},
		{"America/New_York", utc(2026, 3, 8, 0, 0, 0, 0)},
		{"America/New_York", utc(2026, 11, 1, 0, 0, 0, 0)},
		{"Australia/Lord_Howe", utc(2026, 4, 4, 0, 0, 0, 0)},
		{"Australia/Lord_Howe", utc(2026, 10, 3, 0, 0, 0, 0)},
		{"America/Sao_Paulo", utc(2018, 11, 4, 0, 0, 0, 0)}, // midnight skipped
		{"America/Sao_Paulo", utc(2019, 2, 17, 0, 0, 0, 0)}, // 23:00 repeated
	}
	for _, w := range windows {
		loc := mustLoad(t, w.zone)
		for _, e := range exprs {
			t.Run(w.zone+"/"+w.day.Format(time.DateOnly)+"/"+e.expr, func(t *testing.T) {
				t.Parallel()
				c := mustCron(t, e.expr, loc)
				checkAgainstBrute(t, c, e.match, w.day.AddDate(0, 0, -4), w.day.AddDate(0, 0, 4))
			})
		}
	}
}

// randomField returns a random field text for f and the set of values it
// stands for, computed here without the parser. star reports a plain "*".
func randomField(r *rand.Rand, f cronField) (text string, set map[int]bool, star bool) {
	set = map[int]bool{}
	add := func(lo, hi, step int) {
		for v := lo; v <= hi; v += step {
			set[v] = true
		}
	}
	switch r.IntN(6) {
	case 0, 1:
		add(f.min, f.max, 1)
		return "*", set, true
	case 2:
		step := 2 + r.IntN((f.max-f.min)/2)
		add(f.min, f.max, step)
		return "*/" + strconv.Itoa(step), set, false
	case 3:
		lo := f.min + r.IntN(f.max-f.min)
		hi := lo + r.IntN(f.max-lo+1)
		step := 1 + r.IntN(3)
		add(lo, hi, step)
		if step == 1 {
			return fmt.Sprintf("%d-%d", lo, hi), set, false
		}
		if step >= hi-lo+1 {
			return strconv.Itoa(lo), map[int]bool{lo: true}, false
		}
		return fmt.Sprintf("%d-%d/%d", lo, hi, step), set, false
	default:
		var parts []string
		for range 1 + r.IntN(4) {
			v := f.min + r.IntN(f.max-f.min+1)
			set[v] = true
			parts = append(parts, strconv.Itoa(v))
		}
		return strings.Join(parts, ","), set, false
	}
}

// TestCronRandomExpressions generates expressions together with their
// meaning and checks Next and Prev against the brute-force simulation.
func TestCronRandomExpressions(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(20261124, 1))
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"}
	trials := 30
	if testing.Short() {
		trials = 10
	}
	for trial := range trials {
		var texts [5]string
		var sets [5]map[int]bool
		var stars [5]bool
		for i, f := range cronFields {
			texts[i], sets[i], stars[i] = randomField(r, f)
		}
		texts[3], sets[3], stars[3] = "*", nil, true // months: keep slots within a window
		expr := strings.Join(texts[:], " ")
		match := func(w time.Time) bool {
			dom, dow := sets[2][w.Day()], sets[4][int(w.Weekday())] || w.Weekday() == time.Sunday && sets[4][7]
			day := dom && dow
			if !stars[2] && !stars[4] {
				day = dom || dow
			}
			return day && sets[0][w.Minute()] && sets[1][w.Hour()]
		}
		loc := mustLoad(t, zones[r.IntN(len(zones))])
		// Windows start on random days of 2026, near a DST change or not.
		start := utc(2026, 1, 1, 0, 0, 0, 0).AddDate(0, 0, r.IntN(365))
		t.Run(fmt.Sprintf("%d/%s/%s/%s", trial, loc, start.Format(time.DateOnly), expr), func(t *testing.T) {
			t.Parallel()
			c, err := ParseCron(expr, loc)
			if err != nil {
				t.Fatalf("ParseCron(%q) error = %v, want nil", expr, err)
			}
			checkAgainstBrute(t, c, match, start, start.AddDate(0, 0, 14))
		})
	}
}

// TestCronProperties checks the Schedule contract at random instants over
// four centuries, where no brute force is affordable.
func TestCronProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 2026))
	exprs := []string{"30 2 * * *", "*/15 * * * *", "0 0 29 2 *", "@weekly", "0 3 1 * MON", "59 23 31 12 *", "0 0 1 1,7 *"}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Manila"}
	lo, hi := utc(1900, 1, 1, 0, 0, 0, 0).Unix(), utc(2300, 1, 1, 0, 0, 0, 0).Unix()
	for range 2000 {
		c := mustCron(t, exprs[r.IntN(len(exprs))], mustLoad(t, zones[r.IntN(len(zones))]))
		at := time.Unix(lo+r.Int64N(hi-lo), r.Int64N(1e9))
		checkContract(t, c, at)
	}
}

// checkContract checks the Schedule interface contract of s at one instant.
func checkContract(t *testing.T, s Schedule, at time.Time) {
	t.Helper()
	next, prev := s.Next(at), s.Prev(at)
	name := fmt.Sprintf("%v (%T)", s, s)
	if c, ok := s.(Cron); ok {
		name = fmt.Sprintf("ParseCron(%q, %v)", c, c.Location())
	}
	switch {
	case !next.After(at):
		t.Fatalf("%s.Next(%v) = %v, want after it", name, at, next)
	case prev.After(at):
		t.Fatalf("%s.Prev(%v) = %v, want at or before it", name, at, prev)
	case next.Location() != time.UTC || prev.Location() != time.UTC:
		t.Fatalf("%s: Next, Prev(%v) = %v, %v; want UTC", name, at, next, prev)
	case !s.Next(prev).Equal(next):
		t.Fatalf("%s.Next(Prev(%v)) = %v, want Next = %v (no slot between)", name, at, s.Next(prev), next)
	case !s.Prev(next).Equal(next):
		t.Fatalf("%s.Prev(Next(%v)) = %v, want the slot itself", name, at, s.Prev(next))
	case !s.Prev(next.Add(-time.Nanosecond)).Equal(prev):
		t.Fatalf("%s.Prev(Next(%v) - 1ns) = %v, want Prev = %v (no slot between)", name, at, s.Prev(next.Add(-time.Nanosecond)), prev)
	case !s.Next(prev.Add(-time.Nanosecond)).Equal(prev):
		t.Fatalf("%s.Next(Prev(%v) - 1ns) = %v, want the slot %v", name, at, s.Next(prev.Add(-time.Nanosecond)), prev)
	}
}

// TestSearchPrevCivil checks the fallback of prevCivil, which the
// library's confirmed answer normally makes unnecessary, against it.
func TestSearchPrevCivil(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 29))
	exprs := []string{"30 2 * * *", "* * * * *", "*/7 3-5 * * 1-5", "0 0 29 2 *", "@monthly", "0 3 1 * MON", "59 23 31 12 *"}
	lo, hi := utc(1950, 1, 1, 0, 0, 0, 0).Unix(), utc(2250, 1, 1, 0, 0, 0, 0).Unix()
	for range 1000 {
		c := mustCron(t, exprs[r.IntN(len(exprs))], nil)
		w := time.Unix(lo+r.Int64N(hi-lo), 0).UTC().Truncate(time.Minute)
		if r.IntN(4) == 0 {
			w = c.nextCivil(w) // exactly at a match
		}
		if got, want := c.searchPrevCivil(w), c.prevCivil(w); !got.Equal(want) || got.IsZero() {
			t.Fatalf("ParseCron(%q).searchPrevCivil(%v) = %v, want %v", c, w, got, want)
		}
	}
	c := mustCron(t, "0 0 29 2 *", nil)
	if got := c.searchPrevCivil(utc(2104, 2, 28, 0, 0, 0, 0)); !got.Equal(utc(2096, 2, 29, 0, 0, 0, 0)) {
		t.Errorf("searchPrevCivil over the 8 years to 2104 = %v, want 2096-02-29", got)
	}
}
