package restore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/export"
	"github.com/pgsnap/pgsnap/internal/pgadmin"
	"github.com/pgsnap/pgsnap/internal/settings"
)

// TablesOptions say which tables of a snapshot to restore into an existing database, and under
// which names.
type TablesOptions struct {
	// Target is the database to restore into; it must exist. Nothing in it is changed but
	// what the restore adds.
	Target settings.ConnString
	// Tables are "schema.table" (or "table" when one schema only has it); Schemas whole
	// schemas. At least one of either.
	Tables  []string
	Schemas []string
	// As renames: "schema.table" with one table (a name without schema keeps the table's
	// schema), a schema name with one schema. The table's indexes, owned sequences and
	// statistics objects are renamed with it (the old table name in theirs becomes the new).
	As string
	// NoOwner restores without ownership and grants (for a server without the source's roles).
	NoOwner bool
	// Jobs is the number of connections that count rows (default 1).
	Jobs int
}

// RestoredTable is one table a table restore brought back.
type RestoredTable struct {
	From string `json:"from"` // its name in the snapshot
	To   string `json:"to"`   // its name in the target
	Rows int64  `json:"rows"` // proven against the manifest
	// NoData marks a table without rows of its own: a partitioned table's are in its
	// partitions.
	NoData bool `json:"no_data,omitempty"`
}

// TablesResult is what a table restore did.
type TablesResult struct {
	Snapshot catalog.Snapshot `json:"-"`
	Database string           `json:"database"`
	Tables   []RestoredTable  `json:"tables"`
	Schemas  []string         `json:"schemas,omitempty"` // the schemas created, with Schemas
	// LeftOut names the foreign keys between a restored table and one that is not: they are
	// not restored.
	LeftOut []string `json:"left_out,omitempty"`
}

// tablePlan is a table restore's names: what to choose in the snapshot and what to call it.
type tablePlan struct {
	tables  []export.Name
	schemas []string
	as      export.Name // table mode: Name set; schema mode: Schema set
}

// tableRestore is a Restorer restoring chosen tables (RestoreTables).
type tableRestore struct{ *Restorer }

// run restores chosen tables of snap into an existing database, holding a lease:
//
//  1. the target is checked before anything changes: it must exist, a table (or, with
//     Schemas, a schema) of the final name must not, and the final tables' schema must;
//  2. the snapshot's object definitions with only the chosen tables' data are restored into a
//     scratch database on the target's server (a foreign key between a chosen table and
//     another is left out), and the chosen tables' row counts compared with the manifest;
//  3. there they are renamed (As), pg_dump carries them with their indexes, constraints, owned
//     sequences, triggers, comments and grants into the target in a single transaction (all or
//     nothing), and their row counts are compared with the manifest once more, in the target.
//
// The scratch database is dropped whatever happens. A failure leaves the target as it was.
func (r tableRestore) run(ctx context.Context, snap catalog.Snapshot, opts TablesOptions) (res TablesResult, err error) {
	res = TablesResult{Snapshot: snap}
	plan, err := planTables(opts)
	if err != nil {
		return res, err
	}
	if opts.Target == "" {
		return res, errors.New("restore: no target database given")
	}
	target, err := opts.Target.Parse()
	if err != nil {
		return res, fmt.Errorf("restore target: %w", err)
	}
	if res.Database = target.Database(); res.Database == "" {
		return res, fmt.Errorf("restore target %s names no database", target)
	}
	opts.Jobs = max(opts.Jobs, 1)
	lease, err := r.cat.Lease(ctx, snap, "restore")
	if err != nil {
		return res, err
	}
	defer lease.Release()
	sel, err := r.selectTables(ctx, snap, plan)
	if err != nil {
		return res, err
	}
	elsewhere := dataElsewhere(snap, sel)
	for _, names := range elsewhere {
		sel.Data = append(sel.Data, names...)
	}
	res.LeftOut = sel.LeftOut
	renamed := plan.rename(sel.Tables)
	if err := checkTarget(ctx, target, plan, renamed, nil); err != nil {
		return res, err
	}
	job, err := r.prepare(ctx, snap, target, Options{Stream: true, NoOwner: opts.NoOwner, Jobs: 1})
	if err != nil {
		return res, err
	}
	defer job.cleanup()
	scratch, err := pgadmin.CreateScratch(ctx, target, pgadmin.ScratchRestore, job.props.createOptions(opts.NoOwner), r.log)
	if err != nil {
		return res, job.props.explain(err)
	}
	defer func() {
		if derr := scratch.Drop(ctx); derr != nil {
			r.log.Error("drop a scratch database", "database", scratch.Name, "err", derr)
			err = errors.Join(err, fmt.Errorf("the scratch database %s could not be dropped: %w", scratch.Name, derr))
		}
	}()
	into := target.With("dbname", scratch.Name)
	r.log.Info("restoring tables into a scratch database", "snapshot", snap.Name, "tables", len(sel.Tables), "scratch_database", scratch.Name)
	if err := r.restoreSelection(ctx, job, sel, elsewhere, into); err != nil {
		return res, fmt.Errorf("restore %s: %w", snap.Name, err)
	}
	if _, err := r.proveTables(ctx, snap, into, sel.Data, nil, opts.Jobs); err != nil {
		return res, fmt.Errorf("restore %s: %w", snap.Name, err)
	}
	moved, err := renameInScratch(ctx, into, plan, renamed)
	if err != nil {
		return res, fmt.Errorf("restore %s: rename in the scratch database: %w", snap.Name, err)
	}
	if err := checkTarget(ctx, target, plan, renamed, moved); err != nil {
		return res, err
	}
	if err := r.move(ctx, job, into, target, plan, renamed); err != nil {
		return res, fmt.Errorf("restore %s into %s (nothing was changed there): %w", snap.Name, res.Database, err)
	}
	got, err := r.proveTables(ctx, snap, target, sel.Data, renamed, opts.Jobs)
	if err != nil && !errors.Is(err, ErrRowsDiffer) {
		return res, fmt.Errorf("restore %s: the tables are in %s, but their rows could not be counted there: %w", snap.Name, res.Database, err)
	}
	if err != nil {
		// Proven in the scratch database, different here: something else wrote to them.
		if uerr := undo(ctx, target, plan, renamed); uerr != nil {
			return res, fmt.Errorf("restore %s: %w; and what it added to %s could not be dropped: %v", snap.Name, err, res.Database, uerr)
		}
		return res, fmt.Errorf("restore %s: %w (what it added to %s is dropped again)", snap.Name, err, res.Database)
	}
	for _, n := range sel.Tables {
		res.Tables = append(res.Tables, RestoredTable{From: n.String(), To: renamed[n].String(), Rows: got[renamed[n].Key()], NoData: !slices.Contains(sel.Data, n)})
	}
	for _, s := range plan.schemas {
		res.Schemas = append(res.Schemas, export.Ident(plan.schemaAs(s)))
	}
	r.log.Info("tables restored", "snapshot", snap.Name, "database", res.Database, "tables", len(res.Tables))
	return res, nil
}

// Check reports options that cannot work, before anything is read: names that do not parse
// (wrapping export.ErrBadName), tables and schemas together, --as with several.
func (o TablesOptions) Check() error {
	_, err := planTables(o)
	return err
}

// planTables parses the names and checks they go together.
func planTables(opts TablesOptions) (tablePlan, error) {
	var p tablePlan
	seen := map[export.Name]bool{}
	for _, t := range opts.Tables {
		n, err := export.ParseName(t)
		if err != nil {
			return p, err
		}
		if !seen[n] {
			seen[n] = true
			p.tables = append(p.tables, n)
		}
	}
	for _, s := range opts.Schemas {
		name, err := export.ParseSchema(s)
		if err != nil {
			return p, err
		}
		p.schemas = append(p.schemas, name)
	}
	switch {
	case len(p.tables) == 0 && len(p.schemas) == 0:
		return p, errors.New("restore: name the tables (schema.table) or schemas to restore")
	case len(p.tables) > 0 && len(p.schemas) > 0:
		return p, errors.New("restore: name tables (--table) or schemas (--schema), not both")
	case opts.As == "":
	case len(p.tables) == 1:
		as, err := export.ParseName(opts.As)
		if err != nil {
			return p, fmt.Errorf("--as: %w", err)
		}
		p.as = as
	case len(p.schemas) == 1:
		as, err := export.ParseSchema(opts.As)
		if err != nil {
			return p, fmt.Errorf("--as: %w", err)
		}
		p.as = export.Name{Schema: as}
	default:
		return p, errors.New("restore: --as renames one table or one schema, not several")
	}
	return p, nil
}

// rename maps each chosen table to its name in the target.
func (p tablePlan) rename(tables []export.Name) map[export.Name]export.Name {
	out := make(map[export.Name]export.Name, len(tables))
	for _, t := range tables {
		to := t
		switch {
		case p.as.Name != "":
			to = p.as
			if to.Schema == "" {
				to.Schema = t.Schema
			}
		case p.as.Schema != "":
			to.Schema = p.as.Schema
		}
		out[t] = to
	}
	return out
}

// schemaAs is schema s's name in the target.
func (p tablePlan) schemaAs(s string) string {
	if p.as.Schema != "" && p.as.Name == "" {
		return p.as.Schema
	}
	return s
}

// selectTables reads the snapshot's table of contents and chooses the entries to restore. An
// unknown table is the archive's own error, which lists close names.
func (r tableRestore) selectTables(ctx context.Context, snap catalog.Snapshot, p tablePlan) (export.Selection, error) {
	if snap.Format != catalog.FormatCustom {
		return export.Selection{}, fmt.Errorf("snapshot %s holds %s, not a database's tables", snap.Name, snap.Format)
	}
	// The first part's table of contents has every definition (later parts hold data only).
	entries, err := readTOC(ctx, r.cat, snap, export.Name{})
	if err != nil {
		return export.Selection{}, err
	}
	sel, missing, err := export.Select(entries, p.tables, p.schemas)
	if err != nil {
		return sel, fmt.Errorf("snapshot %s: %w", snap.Name, err)
	}
	if len(missing) > 0 {
		a, err := export.Open(ctx, r.cat, snap, missing[0])
		if err != nil {
			return sel, err
		}
		defer a.Close()
		if _, err := archive.OpenTable(a, missing[0].Schema, missing[0].Name); err != nil {
			return sel, fmt.Errorf("snapshot %s: %w", snap.Name, err)
		}
		return sel, fmt.Errorf("snapshot %s: %w: %s is there only as data, without its definition", snap.Name, archive.ErrNoTable, missing[0])
	}
	if len(p.tables) > 0 && len(sel.Data) < len(sel.Tables) {
		elsewhere := dataElsewhere(snap, sel)
		for _, t := range sel.Tables {
			if !slices.Contains(sel.Data, t) && !inParts(elsewhere, t) {
				return sel, fmt.Errorf("snapshot %s: %s has no rows of its own (a partitioned table's are in its partitions): restore its schema with --schema", snap.Name, t)
			}
		}
	}
	return sel, nil
}

// dataElsewhere is, for a snapshot in parts, which chosen tables keep their data in which part
// after the first (by part index).
func dataElsewhere(snap catalog.Snapshot, sel export.Selection) map[int][]export.Name {
	out := map[int][]export.Name{}
	for _, t := range sel.Tables {
		if slices.Contains(sel.Data, t) {
			continue
		}
		for k, p := range snap.Parts {
			if k > 0 && slices.Contains(p.Tables, t.Key()) {
				out[k] = append(out[k], t)
			}
		}
	}
	return out
}

func inParts(parts map[int][]export.Name, t export.Name) bool {
	for _, names := range parts {
		if slices.Contains(names, t) {
			return true
		}
	}
	return false
}

// readTOC reads the table of contents at the head of the archive that holds table.
func readTOC(ctx context.Context, cat *catalog.Catalog, snap catalog.Snapshot, table export.Name) ([]archive.Entry, error) {
	a, err := export.Open(ctx, cat, snap, table)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	_, entries, err := archive.ReadTOC(bufio.NewReaderSize(a, 64<<10))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &catalog.CorruptError{Name: snap.Name, Reason: fmt.Sprintf("table of contents: %v", err)}
	}
	return entries, nil
}

// restoreSelection restores the selection into the scratch database: in one pg_restore of the
// first part, or, when chosen tables keep their data in later parts, the first part's
// definitions, then every chosen table's data, then the first part's indexes and constraints.
func (r tableRestore) restoreSelection(ctx context.Context, j *job, sel export.Selection, elsewhere map[int][]export.Name, into conninfo.Info) error {
	if len(elsewhere) == 0 {
		return r.restoreList(ctx, j, 0, sel.IDs, "", into)
	}
	if err := r.restoreList(ctx, j, 0, sel.IDs, "pre-data", into); err != nil {
		return fmt.Errorf("part 1, before the data: %w", err)
	}
	if err := r.restoreList(ctx, j, 0, sel.IDs, "data", into); err != nil {
		return fmt.Errorf("part 1, data: %w", err)
	}
	for _, k := range slices.Sorted(maps.Keys(elsewhere)) {
		entries, err := readTOC(ctx, r.cat, j.snap, elsewhere[k][0])
		if err != nil {
			return err
		}
		var ids []int
		for _, e := range entries {
			if e.Desc == "TABLE DATA" && slices.Contains(elsewhere[k], export.Name{Schema: e.Namespace, Name: e.Tag}) {
				ids = append(ids, e.DumpID)
			}
		}
		if err := r.restoreList(ctx, j, k, ids, "data", into); err != nil {
			return fmt.Errorf("part %d, data: %w", k+1, err)
		}
	}
	if err := r.restoreList(ctx, j, 0, sel.IDs, "post-data", into); err != nil {
		return fmt.Errorf("part 1, after the data: %w", err)
	}
	return nil
}

// restoreList pipes the decoded archive of part k into pg_restore --use-list (the entries ids,
// of section when set) in the scratch database, then reads the rest and checks the stored bytes
// against the manifest: pg_restore stops reading after the last entry it needs.
func (r tableRestore) restoreList(ctx context.Context, j *job, k int, ids []int, section string, into conninfo.Info) error {
	list, err := os.CreateTemp(r.cfg.TempDir, "pgsnap-tables-*.list")
	if err != nil {
		return fmt.Errorf("SNAPSHOT_TMPDIR: %w", err)
	}
	defer os.Remove(list.Name())
	var b strings.Builder
	for _, id := range ids {
		// Only the dump ID: pg_restore reads nothing else of a line, and a tag could hold a
		// line break.
		b.WriteString(strconv.Itoa(id) + "\n")
	}
	_, err = list.WriteString(b.String())
	if cerr := list.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("SNAPSHOT_TMPDIR: %w", err)
	}
	if k > 0 {
		section = "" // a later part holds data only: --data-only says it
	}
	a, err := r.cat.Open(ctx, j.snap.Objects()[k], catalog.Archive)
	if err != nil {
		return err
	}
	defer a.Close()
	rerr := dump.Restore(ctx, dump.RestoreOptions{Conn: into, Binary: j.bin, Server: j.server, Input: a, Jobs: 1, NoOwner: j.opts.NoOwner,
		List: list.Name(), Section: section, DataOnly: k > 0, Logger: r.log})
	if _, err := io.Copy(io.Discard, bufio.NewReaderSize(a, 1<<20)); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &catalog.CorruptError{Name: j.snap.Name, Reason: fmt.Sprintf("decode: %v", err)}
	}
	if err := a.Verify(); err != nil {
		return err // the cause, when pg_restore failed on damaged input
	}
	return rerr
}

// proveTables counts the rows of tables (under their new names when renamed is set) in db and
// compares them with the manifest's counts for the tables' names in the snapshot.
func (r tableRestore) proveTables(ctx context.Context, snap catalog.Snapshot, db conninfo.Info, tables []export.Name, renamed map[export.Name]export.Name, jobs int) (map[string]int64, error) {
	want := map[string]int64{}
	for _, t := range tables {
		n, ok := snap.Rows[t.Key()]
		if !ok {
			r.log.Warn("restored without checking row counts: "+ErrNoRows.Error(), "table", t.String())
			continue
		}
		if renamed != nil {
			t = renamed[t]
		}
		want[t.Key()] = n
	}
	got, err := CountRows(ctx, db, want, jobs)
	if err != nil {
		return nil, err
	}
	if diff := RowDiff(want, got); diff != "" {
		return nil, fmt.Errorf("%w: %s", ErrRowsDiffer, diff)
	}
	return got, nil
}
