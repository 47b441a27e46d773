package schedule

import (
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// dailyForm is the accepted form, quoted in every parse error so the user
// sees what to write instead.
const dailyForm = "HH:MM, 00:00–23:59, UTC"

// Daily is a slot every day at Hour:Minute UTC.
//
// The zero value is a valid schedule: every day at 00:00 UTC. A Daily built
// by hand should be checked with Valid; ParseDaily only returns valid ones.
type Daily struct{ Hour, Minute int }

var _ Schedule = Daily{}

// ParseDaily parses a time of day in the strict form HH:MM (two ASCII
// digits, a colon, two ASCII digits) from 00:00 to 23:59, taken as UTC.
//
// Anything else is rejected rather than guessed at: no surrounding space,
// no single-digit fields, no seconds, no zone suffix, no "3pm". The error
// quotes the value (escaped) and states the accepted form, but names no
// setting; callers add that.
func ParseDaily(s string) (Daily, error) {
	if problem := dailyShapeProblem(s); problem != "" {
		return Daily{}, parseError(s, problem)
	}
	d := Daily{
		Hour:   int(s[0]-'0')*10 + int(s[1]-'0'),
		Minute: int(s[3]-'0')*10 + int(s[4]-'0'),
	}
	if err := d.Valid(); err != nil {
		return Daily{}, parseError(s, err.Error())
	}
	return d, nil
}

// dailyShapeProblem says why s is not two ASCII digits, a colon and two
// ASCII digits, or returns "" when it is. The cases are split only to make
// the message useful; all of them are rejected.
func dailyShapeProblem(s string) string {
	switch {
	case s == "":
		return "empty"
	case hasSpaceAtEdge(s):
		return "leading or trailing white space"
	}
	for _, r := range s {
		if r > unicode.MaxASCII && unicode.IsDigit(r) {
			return "digits must be ASCII 0-9"
		}
	}
	if len(s) != 5 || s[2] != ':' || !isDigit(s[0]) || !isDigit(s[1]) ||
		!isDigit(s[3]) || !isDigit(s[4]) {
		return "not two digits, a colon and two digits"
	}
	return ""
}

func hasSpaceAtEdge(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return unicode.IsSpace(first) || unicode.IsSpace(last)
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func parseError(s, problem string) error {
	return &ParseError{Value: s, Problem: problem}
}

// ParseError reports a schedule or time zone value that does not parse.
// Its message quotes the value (escaped) and states the accepted form, but
// names no setting: callers add that, or use Problem and their own form.
type ParseError struct {
	Value   string // the value given
	Problem string // what is wrong with it, e.g. "hour 25 out of range 00-23"
	// What names the kind of value, e.g. "cron schedule" or "time zone";
	// empty means "time", the daily HH:MM form.
	What string
	// Want is the accepted form; empty means the daily one
	// ("HH:MM, 00:00–23:59, UTC").
	Want string
}

func (e *ParseError) Error() string {
	what, want := e.What, e.Want
	if what == "" {
		what = "time"
	}
	if want == "" {
		want = dailyForm
	}
	return fmt.Sprintf("invalid %s %s: %s (want %s)", what, strconv.Quote(e.Value), e.Problem, want)
}

// Valid reports whether d is a time of day: Hour 0-23 and Minute 0-59.
func (d Daily) Valid() error {
	switch {
	case d.Hour < 0 || d.Hour > 23:
		return fmt.Errorf("hour %d out of range 00-23", d.Hour)
	case d.Minute < 0 || d.Minute > 59:
		return fmt.Errorf("minute %d out of range 00-59", d.Minute)
	}
	return nil
}

// Next returns the first slot strictly after t, in UTC. When t is exactly
// a slot, that is the next day's slot.
//
// Next and Prev expect a valid d. For an invalid one they do not panic:
// they use Hour*60+Minute minutes past midnight reduced to one day, which
// is still one slot a day.
func (d Daily) Next(t time.Time) time.Time {
	slot := d.sameDay(t)
	if !slot.After(t) {
		// UTC has no DST, so a day is always 24 hours.
		slot = slot.Add(24 * time.Hour)
	}
	return slot
}

// Prev returns the latest slot at or before t, in UTC. When t is exactly a
// slot, that is t itself (in UTC).
func (d Daily) Prev(t time.Time) time.Time {
	slot := d.sameDay(t)
	if slot.After(t) {
		slot = slot.Add(-24 * time.Hour)
	}
	return slot
}

// sameDay returns the slot on t's UTC calendar day.
func (d Daily) sameDay(t time.Time) time.Time {
	const day = 24 * 60
	offset := ((d.Hour*60+d.Minute)%day + day) % day
	u := t.UTC()
	midnight := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	return midnight.Add(time.Duration(offset) * time.Minute)
}

// String returns d as HH:MM, the form ParseDaily accepts.
func (d Daily) String() string {
	return fmt.Sprintf("%02d:%02d", d.Hour, d.Minute)
}
