// Package schedule computes when snapshots are due.
//
// A schedule is a sequence of instants called slots. A scheduled snapshot
// belongs to exactly one slot, and the slot is part of its name, so the
// scheduler can tell whether a slot has been taken already. All slots are
// reported in UTC so that names, manifests and comparisons never depend on
// the machine's local zone.
//
// Daily is the simple form, a time of day in UTC. Cron reads a cron
// expression in a time zone; its documentation states what happens when
// daylight saving time skips or repeats a wall-clock time.
package schedule

import "time"

// Schedule yields the due instants ("slots") of a snapshot schedule.
//
// Implementations are pure values: they hold no clock, do no I/O and are
// safe for concurrent use. For every t:
//
//   - Next(t) is after t, and no slot lies strictly between t and Next(t);
//   - Prev(t) is at or before t, and no slot lies strictly between Prev(t)
//     and t, so Prev(t) == t exactly when t is a slot;
//   - both results are in UTC, whatever t's location, and carry no
//     monotonic clock reading.
//
// The asymmetry is deliberate: a scheduler that wakes exactly at a slot
// asks Prev(now) for the slot to take and Next(now) for the one to wait
// for next, so a slot is neither skipped nor taken twice.
type Schedule interface {
	// Next returns the first slot strictly after t, in UTC.
	Next(t time.Time) time.Time
	// Prev returns the latest slot at or before t, in UTC.
	Prev(t time.Time) time.Time
	// String describes the schedule in the form its parser accepts.
	String() string
}

// Interval returns the length of the slot period that contains at: from
// the latest slot at or before at to the first slot after it, that is
// s.Next(s.Prev(at)) - s.Prev(at). It is the nominal gap between two
// snapshots at that time, for freshness checks ("the newest snapshot is at
// most one interval plus a grace period old"). It varies where the
// schedule does: 24h for Daily; 23h or 25h for a daily Cron across a DST
// change; 28 to 31 days for a monthly one. It returns 0 when s has no slot
// at or before at, or none after it.
func Interval(s Schedule, at time.Time) time.Duration {
	prev := s.Prev(at)
	if prev.IsZero() {
		return 0
	}
	next := s.Next(prev)
	if next.IsZero() {
		return 0
	}
	return next.Sub(prev)
}
