package pgsnap

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/notify"
)

// Shrink is a table that lost more than SNAPSHOT_SHRINK_ALERT of its rows between two
// snapshots of a target, or vanished: rows deleted by mistake are noticed when it happens, and
// the earlier snapshot is pinned so that retention cannot rotate away the last copy from
// before the loss.
type Shrink struct {
	Table    string    `json:"table"` // "schema"."table"
	Before   int64     `json:"rows_before"`
	After    int64     `json:"rows_after"`
	Vanished bool      `json:"vanished,omitempty"`
	Previous string    `json:"previous"` // the snapshot before the loss, now pinned
	Snapshot string    `json:"snapshot"` // the snapshot that found it
	At       time.Time `json:"at"`
}

// shrinks compares every table's row count in snap with prev's: a table with at least minRows
// rows in prev that lost more than pct percent of them, or is gone, is a Shrink.
func shrinks(prev, snap Snapshot, pct int, minRows int64, at time.Time) []Shrink {
	var out []Shrink
	for _, table := range slices.Sorted(maps.Keys(prev.Rows)) {
		before := prev.Rows[table]
		if before < max(minRows, 1) {
			continue
		}
		after, ok := snap.Rows[table]
		if ok && (before-after)*100 <= before*int64(pct) {
			continue
		}
		out = append(out, Shrink{Table: table, Before: before, After: after, Vanished: !ok,
			Previous: prev.Name, Snapshot: snap.Name, At: at})
	}
	return out
}

// canary compares the snapshot just committed with the target's previous one (SNAPSHOT_SHRINK_
// ALERT): each table that lost more than the alert's share of its rows, or vanished, is logged
// at WARN, counted, and sent to the webhooks as a shrink event, and the previous snapshot is
// pinned, its reason recorded. It runs before retention.
func (s *Scheduler) canary(ctx context.Context, cat *catalog.Catalog, snap Snapshot) {
	if s.cfg.ShrinkAlert <= 0 || snap.Rows == nil || s.o.globals {
		return
	}
	snaps, err := cat.ListTarget(ctx)
	if err != nil {
		s.log.Warn("shrink alert: list snapshots", "err", err)
		return
	}
	var prev *Snapshot
	for i, p := range snaps {
		if p.Name != snap.Name && p.Time().Before(snap.Time()) && p.Rows != nil {
			prev = &snaps[i]
			break // newest first
		}
	}
	if prev == nil {
		return
	}
	found := shrinks(*prev, snap, s.cfg.ShrinkAlert, s.cfg.ShrinkMinRows, s.o.now().UTC())
	for _, sh := range found {
		s.log.Warn("table shrank", "table", sh.Table, "rows_before", sh.Before, "rows_after", sh.After, "vanished", sh.Vanished,
			"previous", sh.Previous, "snapshot", sh.Snapshot, "shrink_alert_percent", s.cfg.ShrinkAlert)
		s.stats.shrunk(sh)
		before, after := sh.Before, sh.After
		s.notify.webhooks.Notify(notify.Event{Kind: notify.KindShrink, Target: s.target, Snapshot: sh.Snapshot,
			Previous: sh.Previous, Table: sh.Table, RowsBefore: &before, RowsAfter: &after, Vanished: sh.Vanished, At: sh.At})
	}
	if len(found) == 0 {
		return
	}
	reason := fmt.Sprintf("shrink: %s had %d rows here, %d in %s", found[0].Table, found[0].Before, found[0].After, snap.Name)
	if len(found) > 1 {
		reason += fmt.Sprintf(" (and %d more tables)", len(found)-1)
	}
	if err := cat.SetPin(ctx, prev.Name, true, reason); err != nil {
		s.log.Error("shrink alert: pin the snapshot from before the loss", "snapshot", prev.Name, "err", err)
		return
	}
	s.log.Warn("snapshot from before the loss pinned; pgsnap unpin releases it", "snapshot", prev.Name, "reason", reason)
}
