package export

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/catalog"
)

// Diff is what changed from snapshot A to snapshot B. Its JSON field names are a public
// interface (pgsnap diff --json): fields are added, never renamed.
type Diff struct {
	A SnapshotSide `json:"a"`
	B SnapshotSide `json:"b"`
	// Tables are every table either snapshot holds data for, sorted by schema and name.
	Tables []TableChange `json:"tables"`
	// Added and Removed are the objects of B's table of contents that A's lacks, and the other
	// way round (data entries left out: their change is in Tables), sorted.
	Added   []Object `json:"added"`
	Removed []Object `json:"removed"`
	// SizeChange is B's stored size less A's; ArchiveSizeChange the same for the archives
	// (0 when either manifest lacks the archive's size).
	SizeChange        int64 `json:"size_change"`
	ArchiveSizeChange int64 `json:"archive_size_change"`
}

// SnapshotSide is one of the two snapshots compared.
type SnapshotSide struct {
	Name        string    `json:"name"`
	Time        time.Time `json:"time"`
	Size        int64     `json:"size"`
	ArchiveSize int64     `json:"archive_size,omitempty"`
}

// Table changes.
const (
	Same    = "same"
	Changed = "changed"
	Added   = "added"   // only in B
	Removed = "removed" // only in A
	Unknown = "unknown" // in both, but a manifest has no row counts
)

// TableChange is one table's rows in A and in B. Rows are nil where the snapshot lacks the
// table, or its manifest has no row counts.
type TableChange struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	RowsA  *int64 `json:"rows_a"`
	RowsB  *int64 `json:"rows_b"`
	Change int64  `json:"change"` // RowsB - RowsA, when both are known
	Status string `json:"status"` // same, changed, added, removed or unknown
}

// String is the table's schema.name, each part quoted only when it must be.
func (t TableChange) String() string { return Name{Schema: t.Schema, Name: t.Name}.String() }

// Object is one entry of an archive's table of contents: its type as pg_dump names it
// ("TABLE", "INDEX", "FUNCTION", "FK CONSTRAINT", "COMMENT", ...), its schema and its tag (an
// index's name, "table constraint" for a constraint, "TABLE accounts" for a comment).
type Object struct {
	Type   string `json:"type"`
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
}

// dataDescs are the entries that hold data rather than define an object.
var dataDescs = map[string]bool{
	"TABLE DATA": true, "SEQUENCE SET": true, "BLOBS": true, "BLOB DATA": true,
	"MATERIALIZED VIEW DATA": true, "LARGE OBJECT DATA": true,
}

// Diff compares snapshots a and b: each table's rows from the manifests, the objects added and
// removed from the two tables of contents (only the head of each archive is read: nothing is
// leased), and the sizes.
func (e *Exporter) Diff(ctx context.Context, a, b catalog.Snapshot) (Diff, error) {
	d := Diff{A: side(a), B: side(b), Tables: []TableChange{}, Added: []Object{}, Removed: []Object{}}
	var objs [2]map[Object]int
	present := [2]map[Name]bool{{}, {}}
	for i, snap := range []catalog.Snapshot{a, b} {
		if snap.Format != catalog.FormatCustom {
			return d, fmt.Errorf("snapshot %s holds %s, not a database", snap.Name, snap.Format)
		}
		entries, err := e.toc(ctx, snap)
		if err != nil {
			return d, err
		}
		objs[i] = map[Object]int{}
		for _, en := range entries {
			switch {
			case en.Desc == "TABLE DATA" && snap.Rows == nil:
				present[i][Name{Schema: en.Namespace, Name: en.Tag}] = true
			case !dataDescs[en.Desc]:
				objs[i][Object{Type: en.Desc, Schema: en.Namespace, Name: en.Tag}]++
			}
		}
		// The manifest's rows name every table with data, whichever part of the snapshot
		// holds it; the table of contents read is the first part's.
		for key := range snap.Rows {
			if name, ok := parseKey(key); ok {
				present[i][name] = true
			}
		}
		if snap.Rows == nil {
			e.log.Warn("the manifest has no row counts; its tables show without them", "snapshot", snap.Name)
		}
	}
	d.Added, d.Removed = objectDiff(objs[1], objs[0]), objectDiff(objs[0], objs[1])
	d.Tables = tableChanges(a, b, present)
	d.SizeChange = b.Size - a.Size
	if a.ArchiveSize > 0 && b.ArchiveSize > 0 {
		d.ArchiveSizeChange = b.ArchiveSize - a.ArchiveSize
	}
	return d, nil
}

func side(s catalog.Snapshot) SnapshotSide {
	return SnapshotSide{Name: s.Name, Time: s.Time().UTC(), Size: s.Size, ArchiveSize: s.ArchiveSize}
}

// toc reads the table of contents at the head of snap's archive and stops there.
func (e *Exporter) toc(ctx context.Context, snap catalog.Snapshot) ([]archive.Entry, error) {
	r, err := Open(ctx, e.cat, snap, Name{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	_, entries, err := archive.ReadTOC(bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		return nil, e.archiveErr(ctx, snap, err)
	}
	return entries, nil
}

// objectDiff returns the objects of have that want lacks (counted: a TOC may hold an entry
// twice), sorted by schema, type and name.
func objectDiff(have, want map[Object]int) []Object {
	out := []Object{}
	for o, n := range have {
		for range n - want[o] {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(x, y Object) int {
		return cmp.Or(strings.Compare(x.Schema, y.Schema), strings.Compare(x.Type, y.Type), strings.Compare(x.Name, y.Name))
	})
	return out
}

// tableChanges pairs the tables of a and b: those with data in each (from the manifest's rows,
// or its table of contents when the manifest has none), with their row counts.
func tableChanges(a, b catalog.Snapshot, present [2]map[Name]bool) []TableChange {
	all := maps.Clone(present[0])
	maps.Copy(all, present[1])
	out := []TableChange{}
	for name := range all {
		tc := TableChange{Schema: name.Schema, Name: name.Name}
		if n, ok := a.Rows[name.Key()]; ok && present[0][name] {
			tc.RowsA = &n
		}
		if n, ok := b.Rows[name.Key()]; ok && present[1][name] {
			tc.RowsB = &n
		}
		switch {
		case !present[1][name]:
			tc.Status = Removed
		case !present[0][name]:
			tc.Status = Added
		case tc.RowsA == nil || tc.RowsB == nil:
			tc.Status = Unknown
		case *tc.RowsA != *tc.RowsB:
			tc.Status = Changed
		default:
			tc.Status = Same
		}
		if tc.RowsA != nil && tc.RowsB != nil {
			tc.Change = *tc.RowsB - *tc.RowsA
		}
		out = append(out, tc)
	}
	slices.SortFunc(out, func(x, y TableChange) int {
		return cmp.Or(strings.Compare(x.Schema, y.Schema), strings.Compare(x.Name, y.Name))
	})
	return out
}
