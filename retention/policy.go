// Package retention decides which snapshots to keep.
//
// Its functions are pure: they take the complete snapshots of one target,
// as listed from a store, and return a decision with a reason for each.
// Deleting is the caller's job. Temporary, orphaned or failed snapshots
// must never be passed in, since every item counts as a good snapshot.
//
// No policy ever decides to delete every snapshot: a count below one is an
// error, not "keep nothing".
package retention

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Item is one complete snapshot as retention sees it.
type Item struct {
	Name string
	Time time.Time // the snapshot's time: its slot for scheduled ones, else its start time
}

// Decision says whether an item is kept and why.
type Decision struct {
	Item
	Keep   bool
	Reason string // e.g. "newest 3 (1 of 3)", "beyond the newest 3"
}

// KeepLast keeps the newest n items. It returns one decision per item,
// newest first (Time descending, ties broken by Name descending). n < 1 is
// an error (retention never deletes everything); duplicate names are an
// error. The input slice is not modified.
//
// Items are ordered by the instant of Time, whatever its location, never
// by name or file time. Names break ties so the result does not depend on
// the order in which a store happened to list the items.
func KeepLast(items []Item, n int) ([]Decision, error) {
	if n < 1 {
		return nil, fmt.Errorf("keep last %d: n must be at least 1", n)
	}
	if err := checkNames(items); err != nil {
		return nil, fmt.Errorf("keep last %d: %w", n, err)
	}
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, newerFirst)

	decisions := make([]Decision, len(sorted))
	for i, it := range sorted {
		d := Decision{Item: it, Keep: i < n}
		if d.Keep {
			d.Reason = fmt.Sprintf("newest %d (%d of %d)", n, i+1, n)
		} else {
			d.Reason = fmt.Sprintf("beyond the newest %d", n)
		}
		decisions[i] = d
	}
	return decisions, nil
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
