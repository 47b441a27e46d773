// Package schedule computes when snapshots are due.
//
// A schedule is a sequence of instants called slots. A scheduled snapshot
// belongs to exactly one slot, and the slot is part of its name, so the
// scheduler can tell whether a slot has been taken already. All slots are
// reported in UTC so that names, manifests and comparisons never depend on
// the machine's local zone.
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
