// Package export reads what a snapshot holds without a database: one table's rows as CSV, COPY
// text or JSON lines (Export), every table with its row count (Tables), and what changed
// between two snapshots (Diff).
package export

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/internal/copyfmt"
)

// verifyFloor is the rest of an archive always read after an export to check the stored
// bytes: below it the check costs next to nothing whatever the table's size. A variable for
// the tests.
var verifyFloor int64 = 64 << 20

// readRest says whether an export that has read an archive up to tableEnd goes on to its end
// to check the stored bytes: when that at most doubles what it read, or costs next to nothing.
// archiveSize 0 (a manifest without it) reads on: the cost is unknown, the check is not.
func readRest(archiveSize, tableEnd int64) bool {
	return archiveSize == 0 || archiveSize-tableEnd <= max(tableEnd, verifyFloor)
}

// Exporter reads a catalog's snapshots.
type Exporter struct {
	cat *catalog.Catalog
	log *slog.Logger
}

// New is an exporter of cat's snapshots.
func New(cat *catalog.Catalog, log *slog.Logger) *Exporter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Exporter{cat: cat, log: log}
}

// Result is what an export wrote.
type Result struct {
	Snapshot string   `json:"snapshot"`
	Table    string   `json:"table"` // schema.table, quoted where needed
	Columns  []string `json:"columns"`
	Rows     int64    `json:"rows"`
	Format   string   `json:"format"`
	// Verified says the stored bytes were read to their end and matched the manifest's size
	// and SHA-256. An export of a compressed or encrypted snapshot stops after its table when
	// the rest of the archive is larger than what it read already and 64 MiB; what it wrote
	// was then checked by the row count in the manifest, the zstd frames' checksums and age's
	// authentication, but not by the manifest's SHA-256.
	Verified bool `json:"verified"`
}

// Export writes the rows of table in snap to w in format (csv, text or jsonl), holding a
// lease on the snapshot. csv is byte for byte what COPY table TO STDOUT WITH (FORMAT csv,
// HEADER true) prints for the same rows. The row count is compared with the manifest's. A
// table the snapshot lacks is an error wrapping archive.ErrNoTable that lists close names.
// The rows reach w as they are read: on an error, w may hold part of them.
func (e *Exporter) Export(ctx context.Context, snap catalog.Snapshot, table Name, format string, w io.Writer) (Result, error) {
	res := Result{Snapshot: snap.Name, Format: format}
	f, err := copyfmt.ParseFormat(format)
	if err != nil {
		return res, err
	}
	if snap.Format != catalog.FormatCustom {
		return res, fmt.Errorf("snapshot %s holds %s, not a database's tables", snap.Name, snap.Format)
	}
	lease, err := e.cat.Lease(ctx, snap, "export")
	if err != nil {
		return res, err
	}
	defer lease.Release()
	r, err := Open(ctx, e.cat, snap, table)
	if err != nil {
		return res, err
	}
	defer r.Close()
	tr, err := archive.OpenTable(r, table.Schema, table.Name)
	if err != nil {
		return res, e.archiveErr(ctx, snap, err)
	}
	tb := tr.Table()
	res.Table, res.Columns = Name{Schema: tb.Schema, Name: tb.Name}.String(), tb.Columns
	cw, err := copyfmt.NewWriter(w, f, tb.Columns)
	if err != nil {
		return res, err
	}
	_, err = tr.WriteTo(cw)
	if err == nil {
		err = cw.Close()
	}
	res.Rows = cw.Rows()
	if err != nil {
		if errors.Is(err, archive.ErrCorrupt) || errors.Is(err, archive.ErrTruncated) || errors.Is(err, archive.ErrUnsupported) {
			return res, e.archiveErr(ctx, snap, err)
		}
		return res, fmt.Errorf("export %s from %s: %w", res.Table, snap.Name, err)
	}
	tb = tr.Table()
	key := Name{Schema: tb.Schema, Name: tb.Name}.Key()
	if want, ok := snap.Rows[key]; ok && want != tb.Rows {
		return res, &catalog.CorruptError{Name: snap.Name, Reason: fmt.Sprintf("%s has %d rows, the manifest says %d", res.Table, tb.Rows, want)}
	}
	// Bytes stored without compression or encryption carry no checksum of their own: only
	// the manifest's SHA-256 vouches for what was read, so it is always checked.
	unchecked := !snap.Encrypted && snap.Compression == codec.None
	if unchecked || readRest(snap.ArchiveSize, tb.End) {
		if err := drainAndVerify(ctx, r, snap); err != nil {
			return res, err
		}
		res.Verified = true
		return res, nil
	}
	e.log.Info("export stopped after its table: the stored bytes were not checked against the manifest's SHA-256 (pgsnap verify checks them)",
		"snapshot", snap.Name, "table", res.Table, "rows", res.Rows, "unread_bytes", snap.ArchiveSize-tb.End)
	return res, nil
}

// TableInfo is one table a snapshot holds data for.
type TableInfo struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
}

// String is the table's schema.name, each part quoted only when it must be.
func (t TableInfo) String() string { return Name{Schema: t.Schema, Name: t.Name}.String() }

// Tables lists the tables snap holds data for, with their row counts, sorted by schema and
// name: from the manifest when it has them, else by reading the archive through (and checking
// the stored bytes).
func (e *Exporter) Tables(ctx context.Context, snap catalog.Snapshot) ([]TableInfo, error) {
	if snap.Format != catalog.FormatCustom {
		return nil, fmt.Errorf("snapshot %s holds %s, not a database's tables", snap.Name, snap.Format)
	}
	var out []TableInfo
	if snap.Rows != nil {
		for key, n := range snap.Rows {
			name, ok := parseKey(key)
			if !ok {
				return nil, fmt.Errorf("snapshot %s: the manifest names table %q, not in the form \"schema\".\"table\"", snap.Name, key)
			}
			out = append(out, TableInfo{Schema: name.Schema, Name: name.Name, Rows: n})
		}
	} else {
		lease, err := e.cat.Lease(ctx, snap, "export")
		if err != nil {
			return nil, err
		}
		defer lease.Release()
		r, err := Open(ctx, e.cat, snap, Name{})
		if err != nil {
			return nil, err
		}
		defer r.Close()
		l, err := archive.ListTables(r)
		if err != nil {
			return nil, e.archiveErr(ctx, snap, err)
		}
		if err := r.Verify(); err != nil {
			return nil, err
		}
		for _, t := range l.Tables {
			out = append(out, TableInfo{Schema: t.Schema, Name: t.Name, Rows: t.Rows})
		}
	}
	slices.SortFunc(out, func(a, b TableInfo) int {
		return cmp.Or(strings.Compare(a.Schema, b.Schema), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// archiveErr names the snapshot in an archive error: an unknown table stays ErrNoTable; a
// damaged archive is a *CorruptError.
func (e *Exporter) archiveErr(ctx context.Context, snap catalog.Snapshot, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.As(err, new(*catalog.CorruptError)) {
		return err
	}
	if errors.Is(err, archive.ErrNoTable) || errors.Is(err, archive.ErrUnsupported) {
		return fmt.Errorf("snapshot %s: %w", snap.Name, err)
	}
	if errors.Is(err, archive.ErrCorrupt) || errors.Is(err, archive.ErrTruncated) || errors.Is(err, archive.ErrNotArchive) {
		return &catalog.CorruptError{Name: snap.Name, Reason: err.Error()}
	}
	return fmt.Errorf("read snapshot %s: %w", snap.Name, err)
}

// drainAndVerify reads the decoded archive to its end, so the decoder is done with the stored
// bytes, then compares them with the manifest.
func drainAndVerify(ctx context.Context, r *catalog.Reader, snap catalog.Snapshot) error {
	if _, err := io.Copy(io.Discard, bufio.NewReaderSize(r, 1<<20)); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &catalog.CorruptError{Name: snap.Name, Reason: fmt.Sprintf("decode: %v", err)}
	}
	return r.Verify()
}
