package pgtest

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Fingerprint describes a database's contents for comparing a restored copy with its source.
// Keys and values:
//
//   - every ordinary table (partitions included) and materialized view, keyed by its quoted,
//     schema-qualified name: "rows=<count> md5=<md5 of all rows' text form ordered by that
//     text>" ("unpopulated" for a materialized view never refreshed);
//   - every sequence, keyed the same way: "last_value=<n> is_called=<bool>";
//   - every large object, keyed "lo:<oid>": the md5 of its bytes.
//
// System schemas (pg_catalog, information_schema, pg_toast, temporary schemas) are left out.
// Everything is read in one repeatable-read, read-only transaction with fixed output settings
// (UTC, ISO dates, C collation for the ordering), so two databases with equal contents give
// equal maps whatever the sessions' defaults.
func Fingerprint(ctx context.Context, conn *pgx.Conn) (_ map[string]string, err error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("fingerprint: %w", err)
	}
	defer func() {
		// Read-only: rolling back loses nothing and also ends a failed transaction.
		_ = tx.Rollback(context.WithoutCancel(ctx))
	}()
	// The text form of timestamps, intervals, floats and bytea depends on these settings.
	if _, err := tx.Exec(ctx, `SELECT set_config('TimeZone', 'UTC', true),
		set_config('DateStyle', 'ISO, MDY', true), set_config('IntervalStyle', 'postgres', true),
		set_config('extra_float_digits', '1', true), set_config('bytea_output', 'hex', true)`); err != nil {
		return nil, fmt.Errorf("fingerprint: set output settings: %w", err)
	}
	rels, err := listRelations(ctx, tx)
	if err != nil {
		return nil, err
	}
	fp := make(map[string]string, len(rels))
	for _, r := range rels {
		name := pgx.Identifier{r.schema, r.name}.Sanitize()
		var value string
		switch {
		case r.kind == "S":
			var last int64
			var called bool
			if err := tx.QueryRow(ctx, "SELECT last_value, is_called FROM "+name).Scan(&last, &called); err != nil {
				return nil, fmt.Errorf("fingerprint sequence %s: %w", name, err)
			}
			value = fmt.Sprintf("last_value=%d is_called=%t", last, called)
		case !r.populated:
			value = "unpopulated"
		default:
			// r.* is the whole row even when a column is named r; COLLATE "C" keeps the order
			// independent of the database's collation.
			var count int64
			var sum string
			q := `SELECT count(*), md5(coalesce(string_agg((r.*)::text, E'\n' ORDER BY (r.*)::text COLLATE "C"), '')) FROM ` + name + ` AS r`
			if err := tx.QueryRow(ctx, q).Scan(&count, &sum); err != nil {
				return nil, fmt.Errorf("fingerprint table %s: %w", name, err)
			}
			value = fmt.Sprintf("rows=%d md5=%s", count, sum)
		}
		fp[name] = value
	}
	if err := fingerprintLargeObjects(ctx, tx, fp); err != nil {
		return nil, err
	}
	return fp, nil
}

type relation struct {
	schema, name, kind string
	populated          bool
}

// listRelations lists tables ('r'), materialized views ('m') and sequences ('S') outside the
// system schemas. Partitioned parents ('p') are skipped: they hold no rows of their own, and
// their partitions, which hold the rows, are listed. Schema names starting with pg_ are
// reserved, so the LIKE filter removes only system schemas (pg_catalog, pg_toast, pg_temp_N).
func listRelations(ctx context.Context, tx pgx.Tx) ([]relation, error) {
	rows, err := tx.Query(ctx, `SELECT n.nspname, c.relname, c.relkind::text, c.relispopulated
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'm', 'S')
		  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("fingerprint: list relations: %w", err)
	}
	rels, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (relation, error) {
		var r relation
		err := row.Scan(&r.schema, &r.name, &r.kind, &r.populated)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("fingerprint: list relations: %w", err)
	}
	return rels, nil
}

// fingerprintLargeObjects adds "lo:<oid>" -> md5 of the object's bytes for every large object.
func fingerprintLargeObjects(ctx context.Context, tx pgx.Tx, fp map[string]string) error {
	rows, err := tx.Query(ctx, `SELECT m.oid::int8, md5(lo_get(m.oid))
		FROM pg_catalog.pg_largeobject_metadata m ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("fingerprint large objects: %w", err)
	}
	var oid int64
	var sum string
	_, err = pgx.ForEachRow(rows, []any{&oid, &sum}, func() error {
		fp["lo:"+strconv.FormatInt(oid, 10)] = sum
		return nil
	})
	if err != nil {
		return fmt.Errorf("fingerprint large objects: %w", err)
	}
	return nil
}

// FingerprintDB is Fingerprint of database db, for tests: errors fail the test.
func (c *Cluster) FingerprintDB(t testing.TB, db string) map[string]string {
	t.Helper()
	conn, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	fp, err := Fingerprint(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}
