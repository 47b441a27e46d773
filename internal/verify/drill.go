package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/restore"
	"github.com/pgsnap/pgsnap/internal/settings"
)

// ScratchPrefix starts the name of every scratch database a drill creates.
const ScratchPrefix = "pgsnap_drill_"

// Drill restores snap into a scratch database (a unique pgsnap_drill_* name on the source
// server, or on SNAPSHOT_DRILL_URL's), compares every table's row count with the manifest,
// drops the scratch database whatever happened, and stores the result beside the snapshot. It
// holds a lease on the snapshot meanwhile. The returned error is the drill's failure, if any:
// a scratch database that could not be dropped is one.
func (v *Verifier) Drill(ctx context.Context, snap catalog.Snapshot) (catalog.Drill, error) {
	start := v.now()
	d := catalog.Drill{Snapshot: snap.Name, At: start.UTC()}
	res, err := v.drill(ctx, snap)
	d.Duration = v.now().Sub(start)
	d.Tables, d.Rows = res.Tables, res.Rows
	d.OK = err == nil
	if err != nil {
		d.Error = err.Error()
		var ce *catalog.CorruptError
		d.Damaged = errors.As(err, &ce) || errors.Is(err, restore.ErrRowsDiffer)
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

func (v *Verifier) drill(ctx context.Context, snap catalog.Snapshot) (restore.Result, error) {
	server := v.cfg.DrillURL
	if server == "" {
		server = v.cfg.DatabaseURL
	}
	if server == "" {
		return restore.Result{}, settings.Lookup("SNAPSHOT_DRILL_URL").Problem("", errors.New("a drill needs a server: set SNAPSHOT_DRILL_URL or DATABASE_URL"))
	}
	info, err := server.Parse()
	if err != nil {
		return restore.Result{}, err
	}
	v.log.Info("drill", "snapshot", snap.Name)
	res, err := v.restore.Drill(ctx, snap, info)
	if err != nil {
		return res, fmt.Errorf("drill of %s: %w", snap.Name, err)
	}
	return res, nil
}
