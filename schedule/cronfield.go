package schedule

import (
	"fmt"
	"strconv"
	"strings"
)

// cronField describes one of the five fields of a cron expression.
type cronField struct {
	name     string
	min, max int
	names    []string // names for min, min+1, ...; nil when the field has none
}

var cronFields = [5]cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{
		"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	// 7 is Sunday too, as in most crons.
	{name: "day-of-week", min: 0, max: 7, names: []string{
		"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// check returns what is wrong with the field text s, or "". A field is a
// comma-separated list of items; an item is *, a value or a range a-b,
// optionally followed by /step.
func (f cronField) check(s string) string {
	for item := range strings.SplitSeq(s, ",") {
		if problem := f.checkItem(item); problem != "" {
			return fmt.Sprintf("%s field %s: %s", f.name, strconv.Quote(s), problem)
		}
	}
	return ""
}

func (f cronField) checkItem(item string) string {
	if item == "" {
		return "empty list item"
	}
	base, stepText, hasStep := strings.Cut(item, "/")
	low, high := f.min, f.max
	if base != "*" {
		lowText, highText, isRange := strings.Cut(base, "-")
		var problem string
		if low, problem = f.value(lowText); problem != "" {
			return problem
		}
		if isRange {
			if high, problem = f.value(highText); problem != "" {
				return problem
			}
		} else if !hasStep {
			high = low
		}
	}
	if !hasStep {
		return ""
	}
	step, ok := decimal(stepText)
	// A range may wrap around (22-2 is 22, 23, 0, 1, 2).
	size := high - low + 1
	if low > high {
		size += f.max - f.min + 1
	}
	switch {
	case !ok:
		return fmt.Sprintf("step %s is not a number", strconv.Quote(stepText))
	case step < 1:
		return "step 0, want at least 1"
	case step > 1 && step >= size:
		// The library rejects these; it is said here to name the field.
		return fmt.Sprintf("step %s not less than the %d values of the range", stepText, size)
	}
	return ""
}

// value returns the number a value stands for, or a problem.
func (f cronField) value(v string) (int, string) {
	if v == "" {
		return 0, "missing number"
	}
	if n, ok := decimal(v); ok {
		if n < f.min || n > f.max {
			return 0, fmt.Sprintf("%s out of range %d-%d", v, f.min, f.max)
		}
		return n, ""
	}
	for i, name := range f.names {
		if strings.EqualFold(v, name) {
			return f.min + i, ""
		}
	}
	if f.names != nil {
		return 0, fmt.Sprintf("%s is not a number %d-%d or a name such as %s",
			strconv.Quote(v), f.min, f.max, strings.ToUpper(f.names[1]))
	}
	return 0, fmt.Sprintf("%s is not a number %d-%d", strconv.Quote(v), f.min, f.max)
}

// decimal parses one or more ASCII digits (no sign, no spaces). Longer
// digit strings than any field needs come back as a large number, so they
// are reported as out of range rather than overflowing.
func decimal(s string) (int, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	if len(s) > 9 {
		return 1_000_000_000, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
