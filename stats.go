package pgsnap

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pgsnap/pgsnap/internal/writer"
)

// Stats are running counts of what a Scheduler did since New: the figures metrics and status
// pages are made of.
type Stats struct {
	SnapshotsCommitted int64     // snapshots that passed the commit gate and got a manifest
	AttemptsFailed     int64     // snapshot attempts that failed (each retry counts)
	DrillsPassed       int64     // restore drills whose row counts matched
	DrillsFailed       int64     // restore drills that failed
	LastSuccess        time.Time // when the newest committed snapshot finished; zero when none
	LastFailure        time.Time // when the newest failed attempt ended; zero when none
	// DestinationFailures counts, per destination, snapshots committed elsewhere but not there.
	DestinationFailures map[string]int64

	Attempts     int64            // snapshot attempts, retries included
	Retries      int64            // attempts that retried a failed one
	Failures     map[string]int64 // failed attempts by reason (failureReason): auth, connection, timeout, storage, ...
	LastError    string           // the newest failed attempt's error (passwords are never in errors)
	LastDuration time.Duration    // of the newest committed snapshot
	LastSize     int64            // stored bytes of the newest committed snapshot
	// DumpBytesPerSecond is the newest committed snapshot's archive bytes per second of its run.
	DumpBytesPerSecond float64
	LastDrill          *Drill // the newest restore drill; nil when none ran
	// SlotsSkipped counts slots that passed while the snapshot of an earlier one still ran.
	SlotsSkipped int64
	// ShrinkEvents counts tables that lost more than SNAPSHOT_SHRINK_ALERT of their rows, or
	// vanished, between two snapshots; Shrinks are the newest ten.
	ShrinkEvents int64
	Shrinks      []Shrink
}

// stats guards Stats for concurrent use.
type stats struct {
	mu sync.Mutex
	s  Stats
}

// attempt records one snapshot attempt: retry says it followed a failed one for the same slot.
func (st *stats) attempt(snap Snapshot, err error, at time.Time, retry bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Attempts++
	if retry {
		st.s.Retries++
	}
	if err == nil {
		st.s.SnapshotsCommitted++
		st.s.LastSuccess = at
		st.s.LastDuration = snap.Duration()
		st.s.LastSize = snap.StoredSize()
		if secs := snap.Duration().Seconds(); secs > 0 {
			st.s.DumpBytesPerSecond = float64(snap.ArchiveSize) / secs
		}
		return
	}
	st.s.AttemptsFailed++
	st.s.LastFailure = at
	st.s.LastError = err.Error()
	if st.s.Failures == nil {
		st.s.Failures = map[string]int64{}
	}
	st.s.Failures[failureReason(err)]++
}

// failureReason sorts a failed attempt by its cause, for metrics and webhooks: auth, pg_hba,
// no_database, connection, permission, lock_wait, timeout, storage, corruption, config, dump or
// other (see writer.Cause). The writer sorts what it returns; the few errors of the catalog
// that reach here unsorted name their destination's setting.
func failureReason(err error) string {
	cause := writer.Classify(err)
	if cause == writer.CauseOther {
		msg := err.Error()
		if strings.HasPrefix(msg, "SNAPSHOT_DIR") || strings.HasPrefix(msg, "SNAPSHOT_S3_URL") || strings.HasPrefix(msg, "store ") {
			return string(writer.CauseStorage)
		}
	}
	return string(cause)
}

// maxShrinks is how many shrink events Stats keeps.
const maxShrinks = 10

func (st *stats) shrunk(sh Shrink) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.ShrinkEvents++
	st.s.Shrinks = append([]Shrink{sh}, st.s.Shrinks...)
	if len(st.s.Shrinks) > maxShrinks {
		st.s.Shrinks = st.s.Shrinks[:maxShrinks]
	}
}

func (st *stats) skipped(n int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.SlotsSkipped += int64(n)
}

func (st *stats) destinationFailed(name string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.s.DestinationFailures == nil {
		st.s.DestinationFailures = map[string]int64{}
	}
	st.s.DestinationFailures[name]++
}

func (st *stats) drill(d Drill, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err == nil {
		st.s.DrillsPassed++
	} else {
		st.s.DrillsFailed++
	}
	st.s.LastDrill = &d
}

// snapshot returns a copy of the counts. Safe to call from any goroutine.
func (st *stats) snapshot() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := st.s
	out.DestinationFailures = maps.Clone(out.DestinationFailures)
	out.Failures = maps.Clone(out.Failures)
	out.Shrinks = slices.Clone(out.Shrinks)
	if out.LastDrill != nil {
		d := *out.LastDrill
		out.LastDrill = &d
	}
	return out
}
