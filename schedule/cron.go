package schedule

import (
	"strconv"
	"strings"
	"time"

	cron "github.com/netresearch/go-cron"
)

// cronForm is the accepted form, quoted in every cron parse error.
const cronForm = `5 fields "minute hour day-of-month month day-of-week" such as "30 2 * * *", ` +
	`or @hourly, @daily, @weekly, @monthly or @yearly`

// searchYears bounds every search for a slot. The rarest satisfiable
// expression, 29 February, has gaps of up to 8 years (2096 to 2104).
const searchYears = 10

// Cron is a schedule given by a cron expression, read in a time zone.
//
// The expression names wall-clock times in the zone; slots are the
// instants at which the zone's clocks show them, reported in UTC.
// Daylight saving time is handled so that every wall-clock time yields at
// most one slot and none is lost:
//
//   - A time that does not exist because the clocks spring forward runs
//     once, at the first valid instant after the gap: "30 2 * * *" in
//     Europe/Berlin runs at 03:00 CEST on the last Sunday of March. Several
//     skipped times (as in "*/15 2 * * *") share that one slot, which is
//     also the slot of a time the expression names at the end of the gap.
//   - A time that occurs twice because the clocks fall back runs once, at
//     its first occurrence: "30 1 * * *" in America/New_York runs at
//     01:30 EDT on the first Sunday of November, not again at 01:30 EST.
//     So "*/15 * * * *" pauses for the repeated hour.
//
// The zero Cron has no slots: Next and Prev return the zero time. Use
// ParseCron. A Cron is immutable and safe for concurrent use.
type Cron struct {
	expr string
	loc  *time.Location
	// spec matches wall-clock (civil) times; it is set to UTC, where the
	// library does plain calendar arithmetic, and the zone is applied here.
	spec *cron.SpecSchedule
}

var _ Schedule = Cron{}

// ParseCron parses a cron expression read in loc (nil means UTC).
//
// Accepted: five fields separated by spaces or tabs, "minute hour
// day-of-month month day-of-week", each a list (a,b) of values, ranges
// (a-b, which may wrap around as in FRI-MON or 22-2), steps (*/n, a-b/n,
// a/n) or *; months 1-12 or JAN-DEC, days of the week 0-7 (0 and 7 are
// Sunday) or SUN-SAT, names in any case. As in standard cron, when both
// day fields are restricted (neither is a plain *; */2 counts as
// restricted), a day matching either is due: "0 3 1 * MON" runs on the 1st
// and on every Monday. Also the descriptors @hourly, @daily (or @midnight),
// @weekly (Sunday 00:00), @monthly and @yearly (or @annually).
//
// Rejected with a *ParseError: seconds or year fields (6 or 7 fields),
// @every (its slots would depend on when it was read, not on the clock),
// ?, L, W, # and H extensions, a TZ= or CRON_TZ= prefix (the zone is
// loc), a step not less than the number of values it steps over (*/60
// in the minute field), surrounding white space, and expressions no date
// ever matches ("0 0 30 2 *").
func ParseCron(expr string, loc *time.Location) (Cron, error) {
	if loc == nil {
		loc = time.UTC
	}
	bad := func(problem string) (Cron, error) {
		return Cron{}, &ParseError{Value: expr, Problem: problem, What: "cron schedule", Want: cronForm}
	}
	normal, problem := normalizeCron(expr)
	if problem != "" {
		return bad(problem)
	}
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow |
		cron.Descriptor | cron.DowOrDom)
	parsed, err := parser.Parse(normal)
	if err != nil {
		return bad(err.Error())
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return bad("not a calendar schedule")
	}
	spec.Location = time.UTC
	spec.MaxSearchYears = searchYears
	c := Cron{expr: normal, loc: loc, spec: spec}
	// 2000 is a leap year, so 29 February counts as a date that exists.
	if c.nextCivil(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return bad("no date matches the day-of-month and month fields")
	}
	return c, nil
}

// Next returns the first slot strictly after t, in UTC.
func (c Cron) Next(t time.Time) time.Time {
	if c.spec == nil {
		return time.Time{}
	}
	w := c.nextCivil(maxWallUpTo(t, c.loc))
	if w.IsZero() {
		return time.Time{}
	}
	return firstInstantAt(w, c.loc).UTC()
}

// Prev returns the latest slot at or before t, in UTC; t itself when t is a
// slot.
func (c Cron) Prev(t time.Time) time.Time {
	if c.spec == nil {
		return time.Time{}
	}
	w := c.prevCivil(maxWallUpTo(t, c.loc))
	if w.IsZero() {
		return time.Time{}
	}
	return firstInstantAt(w, c.loc).UTC()
}

// Why Next and Prev are exact: the slot of a wall-clock time w is
// first(w), the earliest instant whose reading is w or later. first is
// monotonic in w, and first(w) <= t exactly when w <= M(t), the highest
// reading at or before t. So Next(t) is first of the least matching w above
// M(t), and Prev(t) first of the greatest matching w at or below it.

// String returns the expression, with fields separated by single spaces.
// The zone is not part of it: see Location.
func (c Cron) String() string { return c.expr }

// Location returns the zone the expression is read in.
func (c Cron) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// Equal reports whether c and o have the same expression and zone name,
// and so the same slots.
func (c Cron) Equal(o Cron) bool {
	return c.expr == o.expr && c.Location().String() == o.Location().String()
}

// nextCivil returns the first matching wall-clock time strictly after the
// civil time w, or the zero time if there is none within searchYears.
func (c Cron) nextCivil(w time.Time) time.Time {
	return c.spec.Next(w)
}

// prevCivil returns the last matching wall-clock time at or before the
// civil time w, or the zero time if there is none within searchYears.
//
// The library's own Prev gives a candidate, accepted only once nextCivil
// confirms it: it is a match, and no match lies between it and w. Should
// that ever fail, searchPrevCivil finds the answer from nextCivil alone.
// So Next and Prev can never disagree.
func (c Cron) prevCivil(w time.Time) time.Time {
	// Matches are whole minutes, so the last one at or before w is the last
	// one at or before w's minute; the library's Prev is strictly before
	// its argument, with one-second resolution.
	w = w.Truncate(time.Minute)
	if p := c.spec.Prev(w.Add(time.Second)); !p.IsZero() && !p.After(w) &&
		c.nextCivil(p.Add(-time.Minute)).Equal(p) {
		if n := c.nextCivil(p); n.IsZero() || n.After(w) {
			return p
		}
	}
	return c.searchPrevCivil(w)
}

// searchPrevCivil is prevCivil for a whole-minute w, from nextCivil alone:
// a match lies in (x, w] exactly when nextCivil(x) <= w. A window (lo, w]
// doubles until it holds a match, then a bisection narrows (lo, hi] to one
// minute, which holds a single match. That takes a few steps for frequent
// schedules and about 45 for 29 February.
func (c Cron) searchPrevCivil(w time.Time) time.Time {
	matchIn := func(x time.Time) bool { // is there a match in (x, w]?
		n := c.nextCivil(x)
		return !n.IsZero() && !n.After(w)
	}
	floor := w.AddDate(-searchYears, 0, 0)
	hi, span := w, time.Minute
	lo := w.Add(-span)
	for !matchIn(lo) {
		if !lo.After(floor) {
			return time.Time{}
		}
		hi, span = lo, 2*span
		if lo = w.Add(-span); lo.Before(floor) {
			lo = floor
		}
	}
	for hi.Sub(lo) > time.Minute {
		// Whole minutes keep the library's search short.
		mid := lo.Add((hi.Sub(lo) / 2).Truncate(time.Minute))
		if matchIn(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return c.nextCivil(lo)
}

// normalizeCron checks the shape of expr and returns it with fields
// separated by single spaces, or a problem. The library checks the values
// again; this check exists for messages that name the field, and to keep
// out syntax the library accepts but this package does not.
func normalizeCron(expr string) (normal, problem string) {
	switch {
	case expr == "":
		return "", "empty"
	case hasSpaceAtEdge(expr):
		return "", "leading or trailing white space"
	case len(expr) > 256:
		return "", "longer than 256 bytes"
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return "", "a TZ= prefix is not supported; the time zone is set separately"
	case strings.HasPrefix(expr, "@"):
		return normalizeDescriptor(expr)
	}
	fields := strings.FieldsFunc(expr, func(r rune) bool { return r == ' ' || r == '\t' })
	switch n := len(fields); {
	case n == 6 || n == 7:
		return "", plural(n, "field") + ": seconds and years are not supported"
	case n != 5:
		return "", plural(n, "field")
	}
	for i, f := range fields {
		if problem := cronFields[i].check(f); problem != "" {
			return "", problem
		}
	}
	return strings.Join(fields, " "), ""
}

func normalizeDescriptor(expr string) (normal, problem string) {
	switch expr {
	case "@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually":
		return expr, ""
	}
	if strings.HasPrefix(expr, "@every") {
		return "", "@every is not supported: its slots would depend on when it was read"
	}
	return "", "unknown descriptor"
}

// plural formats a count with a noun, such as "1 field" or "4 fields".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
