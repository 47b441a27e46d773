package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/export"
	"github.com/pgsnap/pgsnap/internal/pgadmin"
)

// maxIdent is PostgreSQL's longest identifier in bytes (NAMEDATALEN - 1).
const maxIdent = 63

// companionsSQL lists what is named in a table's schema and goes with the table: its indexes
// (a primary key's or unique constraint's among them), the sequences it owns (serial and
// identity columns) and its statistics objects. Under a new name they would clash with the
// live table's.
const companionsSQL = `
SELECT 'INDEX', n.nspname, c.relname FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE i.indrelid = $1::regclass
UNION ALL
SELECT 'SEQUENCE', n.nspname, s.relname FROM pg_depend d
  JOIN pg_class s ON s.oid = d.objid JOIN pg_namespace n ON n.oid = s.relnamespace
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.refobjid = $1::regclass AND d.deptype IN ('a', 'i') AND s.relkind = 'S'
UNION ALL
SELECT 'STATISTICS', n.nspname, x.stxname FROM pg_statistic_ext x
  JOIN pg_namespace n ON n.oid = x.stxnamespace
 WHERE x.stxrelid = $1::regclass`

// companion is an object companionsSQL lists.
type companion struct {
	kind string // INDEX, SEQUENCE or STATISTICS
	name export.Name
}

// renameInScratch gives the chosen tables (or schemas) their names in the target, in the
// scratch database, and returns every relation the move will create in the target's schemas
// (nil for schemas: the schema's own name decides).
func renameInScratch(ctx context.Context, db conninfo.Info, p tablePlan, renamed map[export.Name]export.Name) ([]companion, error) {
	conn, err := pgadmin.Connect(ctx, db)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if len(p.schemas) > 0 {
		for _, s := range p.schemas {
			if to := p.schemaAs(s); to != s {
				if _, err := conn.Exec(ctx, "ALTER SCHEMA "+pgadmin.QuoteIdent(s)+" RENAME TO "+pgadmin.QuoteIdent(to)); err != nil {
					return nil, err
				}
			}
		}
		return nil, nil
	}
	var rels []companion
	for from, to := range renamed {
		if from.Name != to.Name {
			comps, err := companions(ctx, conn, from)
			if err != nil {
				return nil, err
			}
			for _, c := range comps {
				stmt := fmt.Sprintf("ALTER %s %s RENAME TO %s", c.kind, quoteName(c.name), pgadmin.QuoteIdent(companionName(c.name.Name, from.Name, to.Name)))
				if _, err := conn.Exec(ctx, stmt); err != nil {
					return nil, fmt.Errorf("%s: %w", stmt, err)
				}
			}
			if _, err := conn.Exec(ctx, "ALTER TABLE "+quoteName(from)+" RENAME TO "+pgadmin.QuoteIdent(to.Name)); err != nil {
				return nil, err
			}
		}
		if from.Schema != to.Schema {
			// The target has the schema (checked); the scratch database may not.
			stmt := "CREATE SCHEMA IF NOT EXISTS " + pgadmin.QuoteIdent(to.Schema) + "; ALTER TABLE " +
				quoteName(export.Name{Schema: from.Schema, Name: to.Name}) + " SET SCHEMA " + pgadmin.QuoteIdent(to.Schema)
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return nil, err
			}
		}
		comps, err := companions(ctx, conn, to)
		if err != nil {
			return nil, err
		}
		rels = append(rels, companion{kind: "TABLE", name: to})
		for _, c := range comps {
			if c.kind != "STATISTICS" { // not a relation: its name does not clash with one
				rels = append(rels, c)
			}
		}
	}
	return rels, nil
}

func companions(ctx context.Context, conn *pgx.Conn, table export.Name) ([]companion, error) {
	rows, err := conn.Query(ctx, companionsSQL, quoteName(table))
	if err != nil {
		return nil, fmt.Errorf("list the indexes and sequences of %s: %w", table, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (companion, error) {
		var c companion
		err := row.Scan(&c.kind, &c.name.Schema, &c.name.Name)
		return c, err
	})
}

// companionName renames an index or sequence of table old for table new: the old table name in
// it becomes the new one (accounts_pkey, accounts_back_pkey), else the new name goes first;
// cut to PostgreSQL's 63 bytes.
func companionName(name, old, new string) string {
	out := new + "_" + name
	if i := strings.Index(name, old); i >= 0 {
		out = name[:i] + new + name[i+len(old):]
	}
	for len(out) > maxIdent {
		_, size := utf8.DecodeLastRuneInString(out)
		out = out[:len(out)-size]
	}
	return out
}

func quoteName(n export.Name) string {
	return pgadmin.QuoteIdent(n.Schema) + "." + pgadmin.QuoteIdent(n.Name)
}

// checkTarget refuses a target where the restore cannot go without touching what is there: a
// database that does not exist, a schema of the name of one restored whole, a relation of the
// name of a restored table (or of its indexes and sequences, once rels lists them), or a
// restored table's schema missing.
func checkTarget(ctx context.Context, target conninfo.Info, p tablePlan, renamed map[export.Name]export.Name, rels []companion) error {
	db := target.Database()
	conn, err := pgadmin.Connect(ctx, target)
	if pgadmin.IsMissingDatabase(err) {
		return fmt.Errorf("restore target database %q does not exist: a table restore goes into an existing database", db)
	}
	if err != nil {
		return fmt.Errorf("connect to restore target: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schemas []string
	for _, s := range p.schemas {
		schemas = append(schemas, p.schemaAs(s))
	}
	if rels == nil {
		for _, to := range renamed {
			rels = append(rels, companion{kind: "TABLE", name: to})
		}
	}
	var want []string
	if len(p.schemas) == 0 {
		for _, c := range rels {
			want = append(want, c.name.Schema)
		}
	}
	rows, err := conn.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)", append(want, schemas...))
	if err != nil {
		return fmt.Errorf("inspect restore target: %w", err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("inspect restore target: %w", err)
	}
	for _, s := range schemas {
		for _, h := range have {
			if h == s {
				return fmt.Errorf("schema %s already exists in database %q: restore it under another name with --as NEWSCHEMA (nothing was changed)", export.Ident(s), db)
			}
		}
	}
	if len(p.schemas) > 0 {
		return nil
	}
	for _, s := range want {
		if !slices.Contains(have, s) {
			return fmt.Errorf("schema %s does not exist in database %q: create it first, or restore under another name with --as SCHEMA.TABLE (nothing was changed)", export.Ident(s), db)
		}
	}
	for _, c := range rels {
		var exists bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2)`, c.name.Schema, c.name.Name).Scan(&exists)
		if err != nil {
			return fmt.Errorf("inspect restore target: %w", err)
		}
		if exists && c.kind == "TABLE" {
			return fmt.Errorf("%s already exists in database %q: restore it under another name with --as SCHEMA.NEWNAME (nothing was changed)", c.name, db)
		}
		if exists {
			return fmt.Errorf("%s, the name the restored table's %s gets, already exists in database %q: restore under another name with --as SCHEMA.NEWNAME (nothing was changed)", c.name, strings.ToLower(c.kind), db)
		}
	}
	return nil
}

// errRestoreEnded ends pg_dump's output once pg_restore has stopped reading it.
var errRestoreEnded = errors.New("pg_restore ended")

// move carries the renamed tables (or schemas) from the scratch database into the target:
// pg_dump of them piped into pg_restore --single-transaction --exit-on-error, so the target
// gets all of it or nothing.
func (r tableRestore) move(ctx context.Context, j *job, from, to conninfo.Info, p tablePlan, renamed map[export.Name]export.Name) error {
	bin, err := dump.Find(ctx, "pg_dump", j.server, r.cfg.PGBinDir)
	if err != nil {
		return err
	}
	// Patterns in double quotes match the names as they are ("" for a quote).
	args := []string{"--strict-names"}
	for _, s := range p.schemas {
		args = append(args, "--schema="+pgadmin.QuoteIdent(p.schemaAs(s)))
	}
	if len(p.schemas) == 0 {
		for _, t := range renamed {
			args = append(args, "--table="+quoteName(t))
		}
	}
	pr, pw := io.Pipe()
	dumped := make(chan error, 1)
	go func() {
		_, err := dump.Dump(ctx, dump.DumpOptions{Conn: from, Binary: bin, Server: j.server, Args: args, Logger: r.log}, pw)
		pw.CloseWithError(err)
		dumped <- err
	}()
	rerr := dump.Restore(ctx, dump.RestoreOptions{Conn: to, Binary: j.bin, Server: j.server, Input: pr,
		Jobs: 1, NoOwner: j.opts.NoOwner, SingleTransaction: true, Logger: r.log})
	pr.CloseWithError(errRestoreEnded)
	derr := <-dumped
	switch {
	case derr != nil && !errors.Is(derr, errRestoreEnded):
		return fmt.Errorf("pg_dump of the scratch database: %w", derr) // the cause of pg_restore's failure
	case rerr != nil:
		return rerr
	}
	return nil
}

// undo drops what a table restore added to the target, when its rows did not prove.
func undo(ctx context.Context, target conninfo.Info, p tablePlan, renamed map[export.Name]export.Name) error {
	ctx = context.WithoutCancel(ctx)
	conn, err := pgadmin.Connect(ctx, target)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var stmts []string
	for _, s := range p.schemas {
		stmts = append(stmts, "DROP SCHEMA "+pgadmin.QuoteIdent(p.schemaAs(s))+" CASCADE")
	}
	if len(p.schemas) == 0 {
		var names []string
		for _, t := range renamed {
			names = append(names, quoteName(t))
		}
		stmts = append(stmts, "DROP TABLE "+strings.Join(names, ", "))
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
}
