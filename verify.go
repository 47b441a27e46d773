package pgsnap

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/store"
	"github.com/pgsnap/pgsnap/store/s3store"
)

// Verification levels (SNAPSHOT_VERIFY) for the commit gate every snapshot passes.
const (
	VerifyQuick = "quick" // stored bytes' SHA-256, zstd frames whole, pg_restore --list reads the TOC
	VerifyFull  = "full"  // quick, then every data block read by pg_restore and rows recounted
	VerifyOff   = "off"
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

// VerifyResult is the outcome of verifying one snapshot.
type VerifyResult struct {
	Name   string   `json:"name"`
	OK     bool     `json:"ok"`
	Checks []string `json:"checks"` // the checks run, in order
	Error  string   `json:"error,omitempty"`
	Drill  *Drill   `json:"drill,omitempty"`

	gate bool // the commit gate of a snapshot just written
}

// VerifyOptions says how deep Verify goes.
type VerifyOptions struct {
	Full  bool // read every data block with pg_restore and recount the rows
	Drill bool // restore into a scratch database and compare every table's row count
}

// Verify checks one snapshot: quick (the stored bytes against the manifest, the zstd frames
// whole, the archive's table of contents readable by pg_restore), and with opts the full read
// and the restore drill. The error says what failed; a damaged snapshot is a *CorruptError.
func (s *Scheduler) Verify(ctx context.Context, snap Snapshot, opts VerifyOptions) VerifyResult {
	r := VerifyResult{Name: snap.Name, Checks: []string{CheckManifest}}
	err := s.verifyQuick(ctx, snap, &r)
	if snap.Format == FormatGlobals {
		// SQL of roles and tablespaces: quick reads all of it; there is nothing to drill.
		r.OK = err == nil
		if err != nil {
			r.Error = err.Error()
		}
		return r
	}
	if err == nil && opts.Full {
		err = s.verifyFull(ctx, snap, &r)
	}
	if err == nil && opts.Drill {
		r.Checks = append(r.Checks, CheckDrill)
		var d Drill
		d, err = s.DrillSnapshot(ctx, snap)
		r.Drill = &d
	}
	r.OK = err == nil
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// gate is the commit gate: the configured verification of a just-written snapshot, before its
// manifest is committed.
func (s *Scheduler) gate(ctx context.Context, snap Snapshot, w store.Writer) error {
	r := VerifyResult{gate: true}
	if snap.Format == FormatGlobals && s.cfg.Verify != VerifyOff {
		return s.verifyQuick(ctx, snap, &r) // SQL: checksum and frames are all there is
	}
	switch s.cfg.Verify {
	case VerifyOff:
		return nil
	case VerifyQuick:
		// A store that confirms the stored bytes itself (S3: the checksums the server computed
		// on upload) spares reading them back; the table of contents is still read.
		if v, ok := w.(store.Verifier); ok {
			sum, _ := hex.DecodeString(snap.SHA256)
			err := v.Verify(ctx, sum)
			if err == nil {
				if snap.Encrypted && s.cfg.AgeIdentityFile == "" || snap.Format == FormatGlobals {
					return nil // see verifyQuick
				}
				return s.verifyTOC(ctx, snap, &r)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !errors.Is(err, s3store.ErrNoChecksum) {
				return &CorruptError{Name: snap.Name, Reason: err.Error()}
			}
		}
	case VerifyFull:
		if err := s.verifyQuick(ctx, snap, &r); err != nil {
			return err
		}
		return s.verifyFull(ctx, snap, &r)
	}
	return s.verifyQuick(ctx, snap, &r)
}

// verifyQuick reads the stored bytes once, checking size and SHA-256 against the manifest and
// the zstd frames' structure on the way, then lets pg_restore read the archive's table of
// contents from the start of the decoded stream.
func (s *Scheduler) verifyQuick(ctx context.Context, snap Snapshot, r *VerifyResult) error {
	r.Checks = append(r.Checks, CheckChecksum)
	if snap.Encrypted && s.cfg.AgeIdentityFile == "" && r.gate {
		// The host that takes snapshots need not hold the private key. Its gate checks the
		// stored bytes; the frames and the table of contents were checked as they were written
		// (pgsnap's own encoder, the row counter's TOC parse). verify with the identity checks
		// them again.
		return s.verifyRaw(ctx, snap)
	}
	var w io.Writer = io.Discard
	var frames *frameChecker
	if snap.Compression == CompressionZstd {
		frames = newFrameChecker()
		w = frames
		r.Checks = append(r.Checks, CheckFrames)
	}
	if err := s.verifyData(ctx, snap, w); err != nil {
		return err
	}
	if frames != nil {
		if err := frames.Close(); err != nil {
			return &CorruptError{Name: snap.Name, Reason: err.Error()}
		}
	}
	if snap.Format == FormatGlobals {
		return nil // SQL: no table of contents
	}
	return s.verifyTOC(ctx, snap, r)
}

// verifyTOC lets pg_restore read the archive's table of contents from the start of the decoded
// stream.
func (s *Scheduler) verifyTOC(ctx context.Context, snap Snapshot, r *VerifyResult) error {
	r.Checks = append(r.Checks, CheckTOC)
	bin, a, err := s.archiveForRestore(ctx, snap)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := dump.List(ctx, bin, a); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("table of contents unreadable: %v", err)}
	}
	return nil
}

// verifyFull streams the decoded archive through pg_restore into /dev/null, which reads every
// data block, and recounts the rows on the way to compare them with the manifest.
func (s *Scheduler) verifyFull(ctx context.Context, snap Snapshot, r *VerifyResult) error {
	r.Checks = append(r.Checks, CheckData)
	bin, a, err := s.archiveForRestore(ctx, snap)
	if err != nil {
		return err
	}
	defer a.Close()
	counter := archive.NewCounter()
	if err := dump.ReadAll(ctx, bin, io.TeeReader(a, counter), s.log); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("archive data unreadable: %v", err)}
	}
	// pg_restore may stop reading right after the last block; the counter wants the end too.
	if _, err := io.Copy(counter, a); err != nil {
		return &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("decode: %v", err)}
	}
	if snap.Rows == nil {
		return nil
	}
	r.Checks = append(r.Checks, CheckRows)
	got, err := countedRows(counter)
	if err != nil {
		return &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("recount rows: %v", err)}
	}
	if diff := rowDiff(snap.Rows, got); diff != "" {
		return &CorruptError{Name: snap.Name, Reason: "row counts differ from the manifest: " + diff}
	}
	return nil
}

// verifyRaw checks the stored bytes' size and SHA-256 without decrypting them.
func (s *Scheduler) verifyRaw(ctx context.Context, snap Snapshot) error {
	r, err := s.storeOf(snap).st.Open(ctx, snap.Data)
	if err != nil {
		return &CorruptError{Name: snap.Name, Reason: fmt.Sprintf("data object: %v", err)}
	}
	defer r.Close()
	return newCheckedReader(readerWithContext(ctx, r)).verify(snap)
}

// archiveForRestore finds a pg_restore able to read the snapshot's archive and opens the
// decoded archive for it. The caller closes the reader.
func (s *Scheduler) archiveForRestore(ctx context.Context, snap Snapshot) (dump.Binary, io.ReadCloser, error) {
	need, err := dump.ParseVersion(snap.PGDumpVersion)
	if err != nil {
		need = dump.Version{}
	}
	bin, err := dump.Find(ctx, "pg_restore", need, s.cfg.PGBinDir)
	if err != nil {
		return dump.Binary{}, nil, err
	}
	a, err := s.openArchive(ctx, snap)
	if err != nil {
		return dump.Binary{}, nil, err
	}
	return bin, a, nil
}

// rowDiff describes how got differs from want, or returns "".
func rowDiff(want, got map[string]int64) string {
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

// errNoRows marks a snapshot whose manifest has no row counts to compare.
var errNoRows = errors.New("the manifest has no row counts (snapshot taken by an older pgsnap or counting failed)")
