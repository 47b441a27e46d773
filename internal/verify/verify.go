// Package verify proves snapshots: the commit gate every snapshot passes before its manifest
// is committed, quick and full verification, and restore drills.
package verify

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"time"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/internal/restore"
	"github.com/pgsnap/pgsnap/internal/settings"
	"github.com/pgsnap/pgsnap/store"
	"github.com/pgsnap/pgsnap/store/s3store"
)

// Check names reported by Verify.
const (
	CheckManifest = "manifest"
	CheckChecksum = "sha256"
	CheckFrames   = "frames"
	CheckTOC      = "toc"
	CheckData     = "data"
	CheckRows     = "rows"
	CheckDrill    = "drill"
)

// Result is the outcome of verifying one snapshot.
type Result struct {
	Name   string         `json:"name"`
	OK     bool           `json:"ok"`
	Checks []string       `json:"checks"` // the checks run, in order
	Error  string         `json:"error,omitempty"`
	Drill  *catalog.Drill `json:"drill,omitempty"`
	// Note qualifies a pass: an encrypted snapshot checked without SNAPSHOT_AGE_IDENTITY_FILE
	// passed on its stored bytes only, its content not decrypted.
	Note string `json:"note,omitempty"`

	gate bool // the commit gate of a snapshot just written
}

// NotDecrypted is Result.Note for an encrypted snapshot verified without an identity.
const NotDecrypted = "encrypted, content not decrypted (no SNAPSHOT_AGE_IDENTITY_FILE): " +
	"the stored bytes match the manifest's size and SHA-256; frames and table of contents were checked when it was written"

// Options say how deep Verify goes.
type Options struct {
	Full  bool // read every data block with pg_restore and recount the rows
	Drill bool // restore into a scratch database and compare every table's row count
}

// Verifier checks the snapshots of a catalog.
type Verifier struct {
	cfg     settings.Config
	cat     *catalog.Catalog
	restore *restore.Restorer
	log     *slog.Logger
	now     func() time.Time
	// OnDrill, when set, is told every drill that ran to its end (for metrics).
	OnDrill func(catalog.Drill, error)
}

// New is a verifier of cat's snapshots.
func New(cfg settings.Config, cat *catalog.Catalog, r *restore.Restorer, log *slog.Logger, now func() time.Time) *Verifier {
	return &Verifier{cfg: cfg, cat: cat, restore: r, log: log, now: now}
}

// Verify checks one snapshot, holding a lease on it: quick (the stored bytes against the
// manifest, the zstd frames whole, the archive's table of contents readable by pg_restore), and
// with opts the full read and the restore drill. The error says what failed; a damaged snapshot
// is a *catalog.CorruptError. A verdict (passed, or damaged) is recorded beside the snapshot,
// where List and retention find it.
func (v *Verifier) Verify(ctx context.Context, snap catalog.Snapshot, opts Options) Result {
	r := Result{Name: snap.Name, Checks: []string{CheckManifest}}
	lease, err := v.cat.Lease(ctx, snap, "verify")
	if err == nil {
		defer lease.Release()
		err = v.verify(ctx, snap, opts, &r)
	}
	r.OK = err == nil
	if err != nil {
		r.Error = err.Error()
	}
	var ce *catalog.CorruptError
	if ctx.Err() == nil && (err == nil || errors.As(err, &ce)) {
		ch := catalog.Check{At: v.now().UTC(), OK: err == nil, Checks: r.Checks, Error: r.Error}
		if serr := v.cat.SaveCheck(ctx, snap, ch); serr != nil {
			v.log.Warn("store verification result", "snapshot", snap.Name, "err", serr)
		}
	}
	return r
}

func (v *Verifier) verify(ctx context.Context, snap catalog.Snapshot, opts Options, r *Result) error {
	var err error
	for i, o := range snap.Objects() {
		ri := r
		if i > 0 {
			ri = &Result{} // each part passes the same checks; they are listed once
		}
		if err = v.quick(ctx, o, ri); err != nil {
			break
		}
	}
	if snap.Format == catalog.FormatGlobals {
		return err // SQL of roles and tablespaces: quick reads all of it; there is nothing to drill
	}
	if err == nil && opts.Full {
		err = v.full(ctx, snap, r)
	}
	if err == nil && opts.Drill {
		r.Checks = append(r.Checks, CheckDrill)
		var d catalog.Drill
		d, err = v.Drill(ctx, snap)
		r.Drill = &d
	}
	return err
}

// Gate is the commit gate: the configured verification of a just-written snapshot in d, before
// its manifest is committed there. w is the committed object's writer.
func (v *Verifier) Gate(ctx context.Context, snap catalog.Snapshot, d *catalog.Destination, w store.Writer) error {
	snap = catalog.At(snap, d)
	r := Result{gate: true}
	if snap.Format == catalog.FormatGlobals && v.cfg.Verify != settings.VerifyOff {
		return v.quick(ctx, snap, &r) // SQL: checksum and frames are all there is
	}
	switch v.cfg.Verify {
	case settings.VerifyOff:
		return nil
	case settings.VerifyQuick:
		// A store that confirms the stored bytes itself (S3: the checksums the server computed
		// on upload) spares reading them back; the table of contents is still read.
		if sv, ok := w.(store.Verifier); ok {
			sum, _ := hex.DecodeString(snap.SHA256)
			err := sv.Verify(ctx, sum)
			if err == nil {
				if snap.Encrypted && v.cfg.AgeIdentityFile == "" {
					return nil // see quick
				}
				return v.toc(ctx, snap, &r)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !errors.Is(err, s3store.ErrNoChecksum) {
				return &catalog.CorruptError{Name: snap.Name, Reason: err.Error()}
			}
		}
	case settings.VerifyFull:
		if err := v.quick(ctx, snap, &r); err != nil {
			return err
		}
		return v.full(ctx, snap, &r)
	}
	return v.quick(ctx, snap, &r)
}

// quick reads the stored bytes once, checking size and SHA-256 against the manifest and the
// zstd frames' structure on the way, then lets pg_restore read the archive's table of contents
// from the start of the decoded stream.
func (v *Verifier) quick(ctx context.Context, snap catalog.Snapshot, r *Result) error {
	r.Checks = append(r.Checks, CheckChecksum)
	if snap.Encrypted && v.cfg.AgeIdentityFile == "" {
		// The host that takes snapshots need not hold the private key. Its gate, and verify
		// there, check the stored bytes; the frames and the table of contents were checked as
		// they were written (pgsnap's own encoder, the row counter's TOC parse). verify with the
		// identity checks them again; --full and --drill need it.
		if err := v.cat.Copy(ctx, snap, catalog.Stored, io.Discard); err != nil {
			return err
		}
		if !r.gate {
			r.Note = NotDecrypted
		}
		return nil
	}
	var w io.Writer = io.Discard
	var frames *codec.FrameChecker
	if snap.Compression == codec.Zstd {
		frames = codec.NewFrameChecker()
		w = frames
		r.Checks = append(r.Checks, CheckFrames)
	}
	if err := v.cat.Copy(ctx, snap, catalog.Plain, w); err != nil {
		return err
	}
	if frames != nil {
		if err := frames.Close(); err != nil {
			return &catalog.CorruptError{Name: snap.Name, Reason: err.Error()}
		}
	}
	if snap.Format == catalog.FormatGlobals {
		return nil // SQL: no table of contents
	}
	return v.toc(ctx, snap, r)
}

// toc lets pg_restore read the archive's table of contents from the start of the decoded
// stream.
func (v *Verifier) toc(ctx context.Context, snap catalog.Snapshot, r *Result) error {
	r.Checks = append(r.Checks, CheckTOC)
	bin, a, err := v.archive(ctx, snap)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := dump.List(ctx, bin, a); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &catalog.CorruptError{Name: snap.Name, Reason: fmt.Sprintf("table of contents unreadable: %v", err)}
	}
	return nil
}

// full streams each decoded archive of the snapshot through pg_restore into /dev/null, which
// reads every data block, and recounts the rows on the way to compare them with the manifest.
func (v *Verifier) full(ctx context.Context, snap catalog.Snapshot, r *Result) error {
	r.Checks = append(r.Checks, CheckData)
	got := map[string]int64{}
	var countErr error
	for _, o := range snap.Objects() {
		rows, err := v.readAll(ctx, o)
		if err != nil {
			return err
		}
		if rows == nil {
			countErr = errors.New("no row counts")
		}
		maps.Copy(got, rows)
	}
	if snap.Rows == nil {
		return nil
	}
	r.Checks = append(r.Checks, CheckRows)
	if countErr != nil {
		return &catalog.CorruptError{Name: snap.Name, Reason: fmt.Sprintf("recount rows: %v", countErr)}
	}
	if diff := restore.RowDiff(snap.Rows, got); diff != "" {
		return &catalog.CorruptError{Name: snap.Name, Reason: "row counts differ from the manifest: " + diff}
	}
	return nil
}

// readAll has pg_restore read every data block of one data object, and recounts its rows (nil
// when they cannot be counted).
func (v *Verifier) readAll(ctx context.Context, o catalog.Snapshot) (map[string]int64, error) {
	bin, a, err := v.archive(ctx, o)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	counter := archive.NewCounter()
	if err := dump.ReadAll(ctx, bin, io.TeeReader(a, counter), v.log); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &catalog.CorruptError{Name: o.Name, Reason: fmt.Sprintf("%s: archive data unreadable: %v", o.Data, err)}
	}
	// pg_restore may stop reading right after the last block; the counter wants the end too.
	if _, err := io.Copy(counter, a); err != nil {
		return nil, &catalog.CorruptError{Name: o.Name, Reason: fmt.Sprintf("%s: decode: %v", o.Data, err)}
	}
	rows, err := catalog.CountedRows(counter)
	if err != nil {
		return nil, nil // full decides whether counts were needed
	}
	return rows, nil
}

// archive finds a pg_restore able to read the snapshot's archive and opens the decoded archive
// for it, unchecked (quick and full check what they read). The caller closes the reader.
func (v *Verifier) archive(ctx context.Context, snap catalog.Snapshot) (dump.Binary, io.ReadCloser, error) {
	need, err := dump.ParseVersion(snap.PGDumpVersion)
	if err != nil {
		need = dump.Version{}
	}
	bin, err := dump.Find(ctx, "pg_restore", need, v.cfg.PGBinDir)
	if err != nil {
		return dump.Binary{}, nil, err
	}
	a, err := v.cat.Open(ctx, snap, catalog.Archive)
	if err != nil {
		return dump.Binary{}, nil, err
	}
	return bin, a, nil
}
