package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/pgadmin"
	"github.com/pgsnap/pgsnap/internal/restore"
	"github.com/pgsnap/pgsnap/internal/settings"
)

// ScratchPrefix starts the name of every scratch database a drill creates.
const ScratchPrefix = "pgsnap_drill_"

// Drill restores snap into a scratch database (a unique pgsnap_drill_* name on the source
// server, or on SNAPSHOT_DRILL_URL's), compares every table's row count with the manifest,
// drops the scratch database whatever happened, and stores the result beside the snapshot. It
// holds a lease on the snapshot meanwhile. The returned error is the drill's failure, if any.
func (v *Verifier) Drill(ctx context.Context, snap catalog.Snapshot) (catalog.Drill, error) {
	lease, err := v.cat.Lease(ctx, snap, "drill")
	if err != nil {
		return catalog.Drill{Snapshot: snap.Name, At: v.now().UTC(), Error: err.Error()}, err
	}
	defer lease.Release()
	return v.drill(ctx, snap)
}

func (v *Verifier) drill(ctx context.Context, snap catalog.Snapshot) (catalog.Drill, error) {
	start := v.now()
	d := catalog.Drill{Snapshot: snap.Name, At: start.UTC()}
	err := v.drillOnce(ctx, snap, &d)
	d.Duration = v.now().Sub(start)
	d.OK = err == nil
	if err != nil {
		d.Error = err.Error()
		var ce *catalog.CorruptError
		d.Damaged = errors.As(err, &ce) || errors.Is(err, errRowsDiffer)
	}
	if ctx.Err() == nil {
		if v.OnDrill != nil {
			v.OnDrill(d, err)
		}
		if serr := v.cat.SaveDrill(ctx, snap, d); serr != nil {
			v.log.Warn("store drill result", "snapshot", snap.Name, "err", serr)
		}
	}
	return d, err
}

// errRowsDiffer marks a drill whose restored rows differ from the manifest.
var errRowsDiffer = errors.New("restored row counts differ from the manifest")

func (v *Verifier) drillOnce(ctx context.Context, snap catalog.Snapshot, d *catalog.Drill) error {
	server := v.cfg.DrillURL
	if server == "" {
		server = v.cfg.DatabaseURL
	}
	if server == "" {
		return settings.Lookup("SNAPSHOT_DRILL_URL").Problem("", errors.New("a drill needs a server: set SNAPSHOT_DRILL_URL or DATABASE_URL"))
	}
	info, err := server.Parse()
	if err != nil {
		return err
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	scratch := ScratchPrefix + hex.EncodeToString(rnd[:])
	target := info.With("dbname", scratch)

	file, cleanup, err := v.restore.ArchiveFile(ctx, snap)
	if err != nil {
		return err
	}
	defer cleanup()
	version, err := dump.ServerVersion(ctx, info)
	if err != nil {
		return fmt.Errorf("drill server: %w", err)
	}
	bin, err := restore.Binary(ctx, snap, version, v.cfg.PGBinDir)
	if err != nil {
		return err
	}
	admin, err := pgadmin.ConnectMaintenance(ctx, target)
	if err != nil {
		return fmt.Errorf("drill server: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{scratch}.Sanitize()); err != nil {
		return fmt.Errorf("create scratch database %s: %w", scratch, err)
	}
	defer v.dropScratch(ctx, target, scratch)

	v.log.Info("drill restoring", "snapshot", snap.Name, "scratch_database", scratch)
	err = dump.Restore(ctx, dump.RestoreOptions{
		Conn: target, Binary: bin, Server: version, File: file,
		Jobs: runtime.NumCPU(), NoOwner: true, Logger: v.log,
	})
	if err != nil {
		return fmt.Errorf("drill restore of %s: %w", snap.Name, err)
	}
	if snap.Rows == nil {
		// The restore itself is the proof; there is nothing to compare its rows with.
		v.log.Warn("drill restored without comparing rows: "+restore.ErrNoRows.Error(), "snapshot", snap.Name)
		return nil
	}
	got, err := restore.CountRows(ctx, target, snap.Rows, runtime.GOMAXPROCS(0))
	if err != nil {
		return err
	}
	d.Tables = len(got)
	for _, n := range got {
		d.Rows += n
	}
	if diff := restore.RowDiff(snap.Rows, got); diff != "" {
		return fmt.Errorf("drill of %s: %w: %s", snap.Name, errRowsDiffer, diff)
	}
	return nil
}

// dropScratch drops a drill's scratch database, also after ctx ended.
func (v *Verifier) dropScratch(ctx context.Context, target conninfo.Info, scratch string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	admin, err := pgadmin.ConnectMaintenance(cctx, target)
	if err == nil {
		defer admin.Close(cctx)
		_, err = admin.Exec(cctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{scratch}.Sanitize()+" WITH (FORCE)")
	}
	if err != nil {
		v.log.Error("drop scratch database", "database", scratch, "err", err)
	}
}
