// Package retention decides which snapshots to keep.
//
// Its functions are pure: they take the complete snapshots of one target,
// as listed from a store, and return a decision with a reason for each.
// Deleting is the caller's job. Temporary, orphaned or failed snapshots
// must never be passed in, since every item counts as a good snapshot.
//
// No policy ever decides to delete every snapshot: the newest is always
// kept, and a count below one where one is needed is an error, not "keep
// nothing".
//
// # Rules
//
// Apply keeps an item when any of these rules keeps it:
//
//   - pinned: Item.Pinned is set. Nothing drops a pinned item.
//   - last: it is among the newest Policy.Last items.
//   - daily, weekly, monthly, yearly: it is the newest item of its day
//     (week, month, year), and that day is among the newest Policy.Daily
//     days that hold any item; likewise for the others, as restic and borg
//     do. A day with no snapshot uses up no count, so "daily 7" means the
//     7 newest days that have snapshots, not the last 7 calendar days.
//     Periods are calendar periods in Policy.Location (UTC when nil);
//     weeks are ISO 8601 weeks, Monday to Sunday, numbered within their
//     ISO year, so 1 January 2027 belongs to 2026-W53.
//   - max age alone: when Last and all four bucket counts are 0, every
//     item no older than Policy.MaxAge is kept.
//
// Then two limits apply, in this order:
//
//   - Policy.MaxAge, when set, overrides the last and bucket rules: an
//     item older than MaxAge (now - Time > MaxAge) is dropped even when
//     they keep it. It never overrides pinning or the floor.
//   - The floor: the newest Policy.MinKeep items are always kept, whatever
//     MaxAge says. MinKeep is at least 1, so the newest item is always
//     kept, and a target whose snapshots have been failing for longer than
//     MaxAge still keeps its last good ones.
//
// Items are ordered by the instant of Time, whatever its location, and
// equal instants by Name, descending, so no decision depends on the order
// a store lists items in. The bucket rules count every item, pinned or
// not, including ones MaxAge then drops.
//
// # Idempotence
//
// Applying the same policy at the same now to the kept items keeps every
// one of them, so a second prune deletes nothing: each rule that kept an
// item still does, since removing other items never makes an item less
// new, a period less recent or an item older. (With a later now, MaxAge
// may drop more, as intended.)
package retention

import (
	"fmt"
	"strings"
	"time"
)

// Item is one complete snapshot as retention sees it.
type Item struct {
	Name   string
	Time   time.Time // the snapshot's time: its slot for scheduled ones, else its start time
	Pinned bool      // kept whatever the policy says
}

// Decision says whether an item is kept and why.
type Decision struct {
	Item
	Keep bool
	// Reason names every rule that keeps the item, such as "newest 3 (1 of
	// 3), daily 2026-11-24, weekly 2026-W48", or says why it is dropped,
	// such as "beyond the newest 3, not the newest in a kept bucket".
	Reason string
}

// KeepLast keeps the newest n items, and pinned ones. It returns one
// decision per item, newest first (Time descending, ties broken by Name
// descending). n < 1 is an error (retention never deletes everything);
// duplicate names are an error. The input slice is not modified.
//
// KeepLast is Apply with Policy{Last: n, MinKeep: 1}; its reasons read
// "newest 3 (1 of 3)", "beyond the newest 3" and "pinned".
func KeepLast(items []Item, n int) ([]Decision, error) {
	if n < 1 {
		return nil, fmt.Errorf("keep last %d: n must be at least 1", n)
	}
	if err := checkNames(items); err != nil {
		return nil, fmt.Errorf("keep last %d: %w", n, err)
	}
	return Apply(items, Policy{Last: n, MinKeep: 1}, time.Time{})
}

// newerFirst orders items by Time descending, then Name descending.
func newerFirst(a, b Item) int {
	if c := b.Time.Compare(a.Time); c != 0 {
		return c
	}
	return strings.Compare(b.Name, a.Name)
}

// checkNames rejects duplicate names: a store lists each snapshot once, so
// a duplicate means the caller merged listings wrongly, and deleting by a
// name that stands for two items could remove one that should be kept.
func checkNames(items []Item) error {
	seen := make(map[string]struct{}, len(items))
	for _, it := range items {
		if _, dup := seen[it.Name]; dup {
			return fmt.Errorf("duplicate snapshot name %q", it.Name)
		}
		seen[it.Name] = struct{}{}
	}
	return nil
}
