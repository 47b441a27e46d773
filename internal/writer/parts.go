package writer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/pgadmin"
)

// plan is how one snapshot is taken over several pg_dump streams: the snapshot they share,
// exported and held open by pgsnap's own transaction, and each stream's tables. Stream 0 dumps
// the schema, large objects, sequence values and every table's data but the others'; each
// other stream dumps only its tables' data.
type plan struct {
	snapshot string
	tables   [][]string // per stream, as manifests key tables ("schema"."table", also a pg_dump pattern)
	conn     *pgx.Conn  // holds the exported snapshot
}

func (p *plan) release() { p.conn.Close(context.Background()) }

// plan exports a snapshot of info's database and splits its tables over at most jobs streams by
// size (largest first, each to the stream with the least so far). It returns nil, with a
// warning, where one stream has to do: pg_dump include or exclude patterns are set (a stream's
// own table list would override them), the server cannot export a snapshot, or there are
// fewer tables than two streams need.
func (w *Writer) plan(ctx context.Context, info conninfo.Info, jobs int, log *slog.Logger) (*plan, error) {
	if len(w.cfg.DumpArgs()) > 0 {
		log.Warn("SNAPSHOT_DUMP_JOBS needs the whole database: with SNAPSHOT_PG_DUMP_* patterns set, one stream dumps it", "dump_jobs", jobs)
		return nil, nil
	}
	conn, err := pgadmin.Connect(ctx, info)
	if err != nil {
		return nil, Stage(ctx, "connect to database", err)
	}
	p := &plan{conn: conn}
	ok := false
	defer func() {
		if !ok {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return nil, Stage(ctx, "export a snapshot", err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&p.snapshot); err != nil {
		if ctx.Err() != nil {
			return nil, Stage(ctx, "export a snapshot", err)
		}
		log.Warn("the server cannot export a snapshot for parallel streams; one stream dumps the database", "dump_jobs", jobs, "err", err)
		return nil, nil
	}
	rows, err := conn.Query(ctx, `
SELECT n.nspname, c.relname, pg_table_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 3 DESC, 1, 2`)
	if err != nil {
		return nil, Stage(ctx, "list tables", err)
	}
	type table struct {
		key  string
		size int64
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var schema, name string
		var size int64
		err := r.Scan(&schema, &name, &size)
		return table{catalog.RowsKey(schema, name), size}, err
	})
	if err != nil {
		return nil, Stage(ctx, "list tables", err)
	}
	bins := make([][]string, min(jobs, len(tables)))
	sizes := make([]int64, len(bins))
	for _, t := range tables {
		i := slices.Index(sizes, slices.Min(sizes))
		bins[i] = append(bins[i], t.key)
		sizes[i] += t.size
	}
	if len(bins) < 2 {
		log.Warn("too few tables for parallel streams; one stream dumps the database", "dump_jobs", jobs, "tables", len(tables))
		return nil, nil
	}
	p.tables = bins
	log.Info("dumping over parallel streams", "streams", len(bins), "exported_snapshot", p.snapshot, "bytes_per_stream", sizes)
	ok = true
	return p, nil
}

// snapshotParts runs one pg_dump per stream of p at once, each into its own part of one
// attempt, and commits them as one snapshot: all or nothing.
func (w *Writer) snapshotParts(ctx context.Context, info conninfo.Info, name string, started time.Time, slot *time.Time, bin dump.Binary, server dump.Version, p *plan) (catalog.Snapshot, error) {
	a, err := w.Begin(ctx, name, catalog.FormatCustom, len(p.tables))
	if err != nil {
		return catalog.Snapshot{}, err
	}
	defer a.Abort() // no-op once committed
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(p.tables)
	counters := make([]*archive.Counter, n)
	sizes := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		counters[k] = archive.NewCounter()
		args := []string{"--compress=0", "--snapshot=" + p.snapshot}
		if k == 0 {
			for _, other := range p.tables[1:] {
				for _, t := range other {
					args = append(args, "--exclude-table-data="+t)
				}
			}
		} else {
			args = append(args, "--data-only")
			for _, t := range p.tables[k] {
				args = append(args, "--table="+t)
			}
		}
		wg.Go(func() {
			var head headWriter
			sizes[k], errs[k] = dump.Dump(dctx, dump.DumpOptions{
				Conn: info, Binary: bin, Server: server, LockWaitTimeout: w.cfg.LockWaitTimeout,
				Args: args, Logger: a.log.With("part", k+1),
			}, io.MultiWriter(a.Part(k), counters[k], &head))
			if errs[k] == nil && !bytes.HasPrefix(head.b, archiveMagic) {
				errs[k] = errors.New("pg_dump output is not a custom-format archive")
			}
			if errs[k] != nil {
				cancel() // one stream failed: the snapshot is lost, stop the others
			}
		})
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil && !(errors.Is(err, context.Canceled) && ctx.Err() == nil) {
			return catalog.Snapshot{}, Stage(ctx, fmt.Sprintf("dump part %d", k+1), w.lockWaitHint(err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return catalog.Snapshot{}, Stage(ctx, "dump", err)
	}
	meta := w.meta(info, name, started, slot, bin.Version, server, 0, map[string]int64{})
	meta.SystemIdentifier = pgadmin.SystemIDOf(ctx, info)
	for k := range n {
		rows, err := catalog.CountedRows(counters[k])
		if err != nil {
			a.log.Warn("row counts unavailable; the snapshot is kept without them", "part", k+1, "err", err)
			meta.Rows = nil
		} else if meta.Rows != nil {
			maps.Copy(meta.Rows, rows)
		}
		part := catalog.Part{ArchiveSize: sizes[k]}
		if k > 0 {
			part.Tables = p.tables[k]
		}
		meta.Parts = append(meta.Parts, part)
		meta.ArchiveSize += sizes[k]
	}
	return a.Commit(ctx, meta)
}
