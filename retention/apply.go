package retention

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Policy says which snapshots to keep; see the package documentation for
// the exact rules. A zero count turns its rule off. The zero Policy is not
// valid: at least one of Last, the bucket counts or MaxAge must be set,
// and MinKeep must be at least 1.
type Policy struct {
	Last    int // keep the newest Last items
	Daily   int // keep the newest item of each of the newest Daily days that have items
	Weekly  int // likewise for ISO weeks (Monday to Sunday)
	Monthly int // likewise for calendar months
	Yearly  int // likewise for calendar years

	// MaxAge drops items older than now-MaxAge that only the rules above
	// keep. 0 means no limit.
	MaxAge time.Duration

	// MinKeep is the floor: the newest MinKeep items are always kept,
	// whatever MaxAge says. At least 1.
	MinKeep int

	// Location is the zone whose calendar draws the day, week, month and
	// year boundaries. nil means UTC.
	Location *time.Location
}

// Validate reports every problem with p at once, or nil.
func (p Policy) Validate() error {
	var errs []error
	for _, c := range p.counts() {
		if c.n < 0 {
			errs = append(errs, fmt.Errorf("%s %d: must not be negative", c.name, c.n))
		}
	}
	if p.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("max age %v: must not be negative", p.MaxAge))
	}
	if p.MinKeep < 1 {
		errs = append(errs, fmt.Errorf("min keep %d: must be at least 1, the newest snapshot is always kept", p.MinKeep))
	}
	if p.countsZero() && p.MaxAge == 0 {
		errs = append(errs, errors.New("no rule: set last, a daily, weekly, monthly or yearly count, or max age"))
	}
	return errors.Join(errs...)
}

// String summarizes p for logs, such as "last 3, daily 7, weekly 4, max
// age 720h0m0s, min keep 1, zone Europe/Berlin". Rules that are off are
// left out, and so is the zone when it is UTC.
func (p Policy) String() string {
	var parts []string
	for _, c := range p.counts() {
		if c.n != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.name, c.n))
		}
	}
	if p.MaxAge != 0 {
		parts = append(parts, fmt.Sprintf("max age %v", p.MaxAge))
	}
	parts = append(parts, fmt.Sprintf("min keep %d", p.MinKeep))
	if loc := p.location(); loc.String() != "UTC" {
		parts = append(parts, "zone "+loc.String())
	}
	return strings.Join(parts, ", ")
}

// Apply decides, for each item, whether policy p keeps it at time now, by
// the rules in the package documentation. It returns one decision per
// item, newest first (Time descending, ties broken by Name descending);
// an empty input gives an empty result. An invalid p and duplicate names
// are errors. The input slice is not modified.
func Apply(items []Item, p Policy, now time.Time) ([]Decision, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("apply policy %s: %w", p, err)
	}
	if err := checkNames(items); err != nil {
		return nil, fmt.Errorf("apply policy %s: %w", p, err)
	}
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, newerFirst)

	// ruled[i] names the last and bucket rules that keep sorted[i], before
	// MaxAge has its say.
	ruled := make([][]string, len(sorted))
	for i := range min(p.Last, len(sorted)) {
		ruled[i] = append(ruled[i], fmt.Sprintf("newest %d (%d of %d)", p.Last, i+1, p.Last))
	}
	loc := p.location()
	for _, b := range p.buckets() {
		// Sorted newest first, the items of one period are adjacent and the
		// first of them is its newest.
		periods, prev := 0, ""
		for i := 0; i < len(sorted) && periods <= b.n; i++ {
			key := b.key(sorted[i].Time.In(loc))
			if i > 0 && key == prev {
				continue
			}
			prev = key
			if periods++; periods <= b.n {
				ruled[i] = append(ruled[i], b.name+" "+key)
			}
		}
	}

	maxAgeAlone := p.countsZero()
	decisions := make([]Decision, len(sorted))
	for i, it := range sorted {
		old := p.MaxAge > 0 && now.Sub(it.Time) > p.MaxAge
		var keep []string
		if it.Pinned {
			keep = append(keep, "pinned")
		}
		if !old {
			keep = append(keep, ruled[i]...)
			if maxAgeAlone {
				keep = append(keep, fmt.Sprintf("no older than max age %v", p.MaxAge))
			}
		}
		// The floor is named only where it is what keeps the item.
		if len(keep) == 0 && i < p.MinKeep {
			keep = append(keep, fmt.Sprintf("min keep %d of %d", i+1, p.MinKeep))
		}
		d := Decision{Item: it, Keep: len(keep) > 0}
		switch {
		case d.Keep:
			d.Reason = strings.Join(keep, ", ")
		case old && len(ruled[i]) > 0:
			d.Reason = fmt.Sprintf("older than max age %v, which overrides %s", p.MaxAge, strings.Join(ruled[i], ", "))
		case old && maxAgeAlone:
			d.Reason = fmt.Sprintf("older than max age %v", p.MaxAge)
		default:
			d.Reason = p.unselected()
		}
		decisions[i] = d
	}
	return decisions, nil
}

// unselected says why the last and bucket rules keep no item it is given.
func (p Policy) unselected() string {
	var why []string
	if p.Last > 0 {
		why = append(why, fmt.Sprintf("beyond the newest %d", p.Last))
	}
	if p.Daily > 0 || p.Weekly > 0 || p.Monthly > 0 || p.Yearly > 0 {
		why = append(why, "not the newest in a kept bucket")
	}
	return strings.Join(why, ", ")
}

type count struct {
	name string
	n    int
}

func (p Policy) counts() []count {
	return []count{{"last", p.Last}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}, {"yearly", p.Yearly}}
}

func (p Policy) countsZero() bool {
	return p.Last == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0
}

func (p Policy) location() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// bucket is one "newest in each period" rule; key names the period of a
// time already in the policy's zone, and names sort as periods do.
type bucket struct {
	name string
	n    int
	key  func(time.Time) string
}

func (p Policy) buckets() []bucket {
	all := []bucket{
		{"daily", p.Daily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{"weekly", p.Weekly, func(t time.Time) string {
			year, week := t.ISOWeek()
			return fmt.Sprintf("%04d-W%02d", year, week)
		}},
		{"monthly", p.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
		{"yearly", p.Yearly, func(t time.Time) string { return t.Format("2006") }},
	}
	return slices.DeleteFunc(all, func(b bucket) bool { return b.n <= 0 })
}
