package restore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// quotedTable is a schema-qualified table name as manifests hold it: "schema"."table".
var quotedTable = regexp.MustCompile(`^"(?:[^"]|"")+"\."(?:[^"]|"")+"$`)

// CountRows counts the rows of each table named in want, in the database of target, on up to
// jobs connections at once (a restore's count runs beside nothing else).
func CountRows(ctx context.Context, target conninfo.Info, want map[string]int64, jobs int) (map[string]int64, error) {
	cfg, err := target.With("application_name", "pgsnap").PgxConfig()
	if err != nil {
		return nil, err
	}
	tables := make(chan string, len(want))
	for table := range want {
		if !quotedTable.MatchString(table) {
			return nil, fmt.Errorf("manifest names table %q, not in the form \"schema\".\"table\"", table)
		}
		tables <- table
	}
	close(tables)
	var mu sync.Mutex
	got := make(map[string]int64, len(want))
	var errs []error
	var wg sync.WaitGroup
	for range max(1, min(jobs, len(want))) {
		wg.Go(func() {
			if err := countTables(ctx, cfg, tables, func(table string, n int64) {
				mu.Lock()
				got[table] = n
				mu.Unlock()
			}); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return got, nil
}

// countTables counts the tables it takes from tables on one connection.
func countTables(ctx context.Context, cfg *pgx.ConnConfig, tables <-chan string, found func(string, int64)) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to count rows: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for table := range tables {
		var n int64
		// table is a quoted identifier (checked by countRows), safe to place in the query.
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM ONLY "+table).Scan(&n); err != nil {
			var pgErr interface{ SQLState() string }
			if errors.As(err, &pgErr) && pgErr.SQLState() == "42P01" {
				continue // missing: rowDiff reports it
			}
			return fmt.Errorf("count rows of %s: %w", table, err)
		}
		found(table, n)
	}
	return nil
}

// RowDiff describes how got differs from want, or returns "".
func RowDiff(want, got map[string]int64) string {
	var diffs []string
	for _, t := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[t]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing (manifest %d)", t, want[t]))
		} else if g != want[t] {
			diffs = append(diffs, fmt.Sprintf("%s: %d rows (manifest %d)", t, g, want[t]))
		}
	}
	for _, t := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[t]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: %d rows not in the manifest", t, got[t]))
		}
	}
	const most = 5
	if len(diffs) > most {
		diffs = append(diffs[:most], fmt.Sprintf("and %d more", len(diffs)-most))
	}
	return strings.Join(diffs, "; ")
}

// ErrNoRows marks a snapshot whose manifest has no row counts to compare.
var ErrNoRows = errors.New("the manifest has no row counts (snapshot taken by an older pgsnap or counting failed)")
