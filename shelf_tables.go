package pgsnap

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pgsnap/pgsnap/internal/export"
)

// Export writes the rows of one table ("schema.table", or "table" when one schema only has
// it; double quotes as in SQL) of the named snapshot to w, with no database involved: format
// "csv" (the default when empty) is byte for byte what COPY ... TO STDOUT WITH (FORMAT csv,
// HEADER true) prints, "text" COPY's text format, "jsonl" one JSON object per row. Encrypted
// snapshots need SNAPSHOT_AGE_IDENTITY_FILE. A table the snapshot lacks is an error matching
// ErrNoTable that lists close names. See ExportResult.Verified for when the stored bytes are
// checked.
func (sh *Shelf) Export(ctx context.Context, name, table, format string, w io.Writer) (ExportResult, error) {
	t, err := export.ParseName(table)
	if err != nil {
		return ExportResult{}, err
	}
	if format == "" {
		format = "csv"
	}
	snap, err := sh.Find(ctx, name)
	if err != nil {
		return ExportResult{}, err
	}
	return export.New(sh.cat, sh.log).Export(ctx, snap, t, format, w)
}

// Tables lists the tables the named snapshot holds data for, with their row counts.
func (sh *Shelf) Tables(ctx context.Context, name string) ([]TableInfo, error) {
	snap, err := sh.Find(ctx, name)
	if err != nil {
		return nil, err
	}
	return export.New(sh.cat, sh.log).Tables(ctx, snap)
}

// Diff compares snapshots a and b: every table's rows in each and the change, the objects
// (tables, indexes, functions, ...) added and removed, and the size change. An empty b is the
// newest snapshot of the target, an empty a the one before b.
func (sh *Shelf) Diff(ctx context.Context, a, b string) (SnapshotDiff, error) {
	var usable []Snapshot // the target's database snapshots that can be read, newest first
	if a == "" || b == "" {
		list, err := sh.cat.ListTarget(ctx)
		if err != nil {
			return SnapshotDiff{}, err
		}
		for _, s := range list {
			if s.Format == FormatCustom && s.Damaged == "" {
				usable = append(usable, s)
			}
		}
	}
	if b == "" {
		if len(usable) == 0 {
			return SnapshotDiff{}, fmt.Errorf("no snapshot of %s to compare: %w", sh.targetName(), ErrNotFound)
		}
		b = usable[0].Name
	}
	sb, err := sh.Find(ctx, b)
	if err != nil {
		return SnapshotDiff{}, err
	}
	if a == "" {
		// The newest before b of b's own target (a store may hold several).
		for _, s := range usable {
			if s.Target == sb.Target && s.Name != sb.Name && s.Time().Before(sb.Time()) {
				a = s.Name
				break
			}
		}
		if a == "" {
			return SnapshotDiff{}, fmt.Errorf("no snapshot of target %s before %s to compare it with: %w", sb.Target, sb.Name, ErrNotFound)
		}
	}
	sa, err := sh.Find(ctx, a)
	if err != nil {
		return SnapshotDiff{}, err
	}
	if sa.Name == sb.Name {
		return SnapshotDiff{}, fmt.Errorf("diff compares two snapshots; both are %s", sa.Name)
	}
	return export.New(sh.cat, sh.log).Diff(ctx, sa, sb)
}

func (sh *Shelf) targetName() string {
	if sh.target == "" {
		return "any target"
	}
	return "target " + sh.target
}

// RestoreTables restores chosen tables (or whole schemas) of the named snapshot into an
// existing database, opts.Target, by default the source database itself (DATABASE_URL): with
// their indexes, constraints, owned sequences and their values, triggers, comments and grants.
// It refuses a name that exists there (opts.As restores under another), adds nothing else and
// changes nothing that is there; a foreign key between a restored table and another is left out
// (RestoreTablesResult.LeftOut names it). The rows are proven against the manifest before the
// target is touched and again in it; the target gets everything in one transaction, or
// nothing.
func (sh *Shelf) RestoreTables(ctx context.Context, name string, opts RestoreTablesOptions) (RestoreTablesResult, error) {
	if opts.Target == "" {
		opts.Target = sh.cfg.DatabaseURL
	}
	if opts.Target == "" {
		return RestoreTablesResult{}, errors.New("restore: no target database: give one, or set DATABASE_URL to restore into the source database")
	}
	snap, err := sh.Find(ctx, name)
	if err != nil {
		return RestoreTablesResult{}, err
	}
	return sh.res.RestoreTables(ctx, snap, opts)
}
