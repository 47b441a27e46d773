package schedule

import (
	"strings"
	"time"
	"unicode"
)

// zoneForm is the accepted form of a zone name, quoted in parse errors.
const zoneForm = "an IANA time zone name such as Europe/Berlin, or UTC"

// ParseTZ loads the time zone with the given IANA name, such as
// "Europe/Berlin", "America/New_York" or "UTC". Names are case-sensitive.
//
// Rejected with a *ParseError: the empty string (callers apply their own
// default), surrounding white space, "Local" (it would make slots depend on
// the machine's configuration) and names the zone database does not know.
// The zone database is the system's, or the one embedded by importing
// time/tzdata in the program's main package.
func ParseTZ(name string) (*time.Location, error) {
	bad := func(problem string) error {
		return &ParseError{Value: name, Problem: problem, What: "time zone", Want: zoneForm}
	}
	switch {
	case name == "":
		return nil, bad("empty")
	case hasSpaceAtEdge(name):
		return nil, bad("leading or trailing white space")
	case name == "Local":
		return nil, bad(`"Local" depends on the machine's configuration; name the zone`)
	case strings.ContainsFunc(name, func(r rune) bool { return r > unicode.MaxASCII || unicode.IsControl(r) }):
		return nil, bad("not an ASCII zone name")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		// LoadLocation's own message repeats the name and, for a missing
		// zone database, lists every place it looked; keep it short.
		return nil, bad("unknown time zone (names are case-sensitive, such as Europe/Berlin)")
	}
	return loc, nil
}

// zoneSpan exceeds the distance between any two UTC offsets a zone has
// used (historic local mean times reach about -16h and +16h), so instants
// further apart than this cannot have their wall clocks in the other order.
const zoneSpan = 36 * time.Hour

// maxZonePeriods bounds the walk over a zone's offset periods within
// 2*zoneSpan; real zones change offset a few times a year at most.
const maxZonePeriods = 64

// wallClock returns the wall-clock reading of instant i in loc as a UTC
// time with the same fields ("civil time"), so that wall-clock readings
// can be compared and stepped without any zone rules.
func wallClock(i time.Time, loc *time.Location) time.Time {
	_, offset := i.In(loc).Zone()
	return i.UTC().Add(time.Duration(offset) * time.Second)
}

// maxWallUpTo returns the largest wall-clock reading in loc at any instant
// at or before t. It is t's own reading except within a repeated hour
// after a fall-back transition, where the clock read later times before
// it was set back.
//
// A reading just before a transition is never attained exactly (the clock
// jumps at the transition instant), so the reading one nanosecond earlier
// stands for it; wall-clock slot times are whole minutes, so comparisons
// against it come out the same.
func maxWallUpTo(t time.Time, loc *time.Location) time.Time {
	highest := wallClock(t, loc)
	if loc == time.UTC {
		return highest
	}
	earliest := t.Add(-zoneSpan)
	x := t
	for range maxZonePeriods {
		start, _ := x.In(loc).ZoneBounds()
		if start.IsZero() || start.Before(earliest) {
			break
		}
		// Within one period the wall clock only rises, so its highest
		// reading is at its last instant.
		last := start.Add(-time.Nanosecond)
		if w := wallClock(last, loc); w.After(highest) {
			highest = w
		}
		x = last
	}
	return highest
}

// firstInstantAt returns the earliest instant whose wall-clock reading in
// loc is at or after the civil time w. That is w itself when w occurs once,
// its first occurrence when a fall-back repeats it, and the end of the gap
// (the first valid instant) when a spring-forward skips it.
func firstInstantAt(w time.Time, loc *time.Location) time.Time {
	if loc == time.UTC {
		return w
	}
	x := w.Add(-zoneSpan)
	var instant time.Time
	for range maxZonePeriods {
		local := x.In(loc)
		start, end := local.ZoneBounds()
		_, offset := local.Zone()
		// Within a period the reading is instant+offset, rising with the
		// instant, so the earliest instant reading w or later is this one
		// or the period's start, whichever is later.
		instant = w.Add(-time.Duration(offset) * time.Second)
		if !start.IsZero() && instant.Before(start) {
			instant = start
		}
		if end.IsZero() || instant.Before(end) {
			// Periods are visited in order and each candidate lies in its
			// own period, so the first candidate found is the earliest.
			return instant
		}
		x = end
	}
	return instant
}
