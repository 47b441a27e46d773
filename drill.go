package pgsnap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/store"
)

// Drill schedules (SNAPSHOT_DRILL_SCHEDULE).
const (
	DrillOff       = "off"
	DrillAfterEach = "after-each"
	DrillDaily     = "daily"
	DrillWeekly    = "weekly"
)

// drillSuffix ends the key of a snapshot's latest drill result, stored beside its manifest.
const drillSuffix = ".drill.json"

// scratchPrefix starts the name of every scratch database a drill creates.
const scratchPrefix = "pgsnap_drill_"

// Drill is the result of restoring a snapshot into a scratch database and comparing every
// table's row count with the manifest.
type Drill struct {
	Snapshot string        `json:"snapshot"`
	At       time.Time     `json:"at"`
	OK       bool          `json:"ok"`
	Duration time.Duration `json:"duration_ns"`
	Tables   int           `json:"tables"` // tables whose row counts were compared
	Rows     int64         `json:"rows"`   // rows restored in them
	Error    string        `json:"error,omitempty"`
}

// DrillSnapshot restores snap into a scratch database (a unique pgsnap_drill_* name on the
// source server, or on SNAPSHOT_DRILL_URL's), compares every table's row count with the
// manifest, drops the scratch database whatever happened, and stores the result beside the
// snapshot. The returned error is the drill's failure, if any.
func (s *Scheduler) DrillSnapshot(ctx context.Context, snap Snapshot) (Drill, error) {
	start := s.now()
	d := Drill{Snapshot: snap.Name, At: start.UTC()}
	err := s.drill(ctx, snap, &d)
	d.Duration = s.now().Sub(start)
	d.OK = err == nil
	if err != nil {
		d.Error = err.Error()
	}
	if ctx.Err() == nil {
		s.stats.drill(d, err)
	}
	if ctx.Err() == nil {
		if serr := s.saveDrill(ctx, snap, d); serr != nil {
			s.log.Warn("store drill result", "snapshot", snap.Name, "err", serr)
		}
	}
	return d, err
}

func (s *Scheduler) drill(ctx context.Context, snap Snapshot, d *Drill) error {
	server := s.cfg.DrillURL
	if server == "" {
		server = s.cfg.DatabaseURL
	}
	if server == "" {
		return lookupSetting("SNAPSHOT_DRILL_URL").error("", errors.New("a drill needs a server: set SNAPSHOT_DRILL_URL or DATABASE_URL"))
	}
	info, err := server.parse()
	if err != nil {
		return err
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	scratch := scratchPrefix + hex.EncodeToString(rnd[:])
	target := info.With("dbname", scratch)

	file, cleanup, err := s.archiveFile(ctx, snap, s.cfg.TempDir)
	if err != nil {
		return err
	}
	defer cleanup()
	version, err := dump.ServerVersion(ctx, info)
	if err != nil {
		return fmt.Errorf("drill server: %w", err)
	}
	bin, err := restoreBinary(ctx, snap, version, s.cfg.PGBinDir)
	if err != nil {
		return err
	}
	admin, err := connectMaintenance(ctx, target)
	if err != nil {
		return fmt.Errorf("drill server: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{scratch}.Sanitize()); err != nil {
		return fmt.Errorf("create scratch database %s: %w", scratch, err)
	}
	defer s.dropScratch(ctx, target, scratch)

	s.log.Info("drill restoring", "snapshot", snap.Name, "scratch_database", scratch)
	err = dump.Restore(ctx, dump.RestoreOptions{
		Conn: target, Binary: bin, Server: version, File: file,
		Jobs: runtime.NumCPU(), NoOwner: true, Logger: s.log,
	})
	if err != nil {
		return fmt.Errorf("drill restore of %s: %w", snap.Name, err)
	}
	if snap.Rows == nil {
		// The restore itself is the proof; there is nothing to compare its rows with.
		s.log.Warn("drill restored without comparing rows: "+errNoRows.Error(), "snapshot", snap.Name)
		return nil
	}
	got, err := countRows(ctx, target, snap.Rows, runtime.GOMAXPROCS(0))
	if err != nil {
		return err
	}
	d.Tables = len(got)
	for _, n := range got {
		d.Rows += n
	}
	if diff := rowDiff(snap.Rows, got); diff != "" {
		return fmt.Errorf("drill of %s: restored row counts differ from the manifest: %s", snap.Name, diff)
	}
	return nil
}

// dropScratch drops a drill's scratch database, also after ctx ended.
func (s *Scheduler) dropScratch(ctx context.Context, target conninfo.Info, scratch string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	admin, err := connectMaintenance(cctx, target)
	if err == nil {
		defer admin.Close(cctx)
		_, err = admin.Exec(cctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{scratch}.Sanitize()+" WITH (FORCE)")
	}
	if err != nil {
		s.log.Error("drop scratch database", "database", scratch, "err", err)
	}
}

// quotedTable is a schema-qualified table name as manifests hold it: "schema"."table".
var quotedTable = regexp.MustCompile(`^"(?:[^"]|"")+"\."(?:[^"]|"")+"$`)

// countRows counts the rows of each table named in want, in the database of target, on up to
// jobs connections at once (a restore's count runs beside nothing else).
func countRows(ctx context.Context, target conninfo.Info, want map[string]int64, jobs int) (map[string]int64, error) {
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

// saveDrill stores d beside its snapshot, replacing the previous result.
func (s *Scheduler) saveDrill(ctx context.Context, snap Snapshot, d Drill) error {
	st := s.storeOf(snap).st
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	key := d.Snapshot + drillSuffix
	if err := st.Delete(ctx, key); err != nil {
		return err
	}
	w, err := st.Create(ctx, key)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write(append(b, '\n')); err != nil {
		return err
	}
	return w.Commit(ctx)
}

// readDrill returns the latest drill stored for a snapshot, or nil.
func (s *Scheduler) readDrill(ctx context.Context, snap Snapshot) *Drill {
	name := snap.Name
	r, err := s.storeOf(snap).st.Open(ctx, name+drillSuffix)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("read drill result", "snapshot", name, "err", err)
		}
		return nil
	}
	defer r.Close()
	var d Drill
	if err := json.NewDecoder(io.LimitReader(r, maxManifestSize)).Decode(&d); err != nil {
		s.log.Warn("read drill result", "snapshot", name, "err", err)
		return nil
	}
	return &d
}
