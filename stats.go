package pgsnap

import (
	"sync"
	"time"
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
}

// stats guards Stats for concurrent use.
type stats struct {
	mu sync.Mutex
	s  Stats
}

func (st *stats) attempt(err error, at time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err == nil {
		st.s.SnapshotsCommitted++
		st.s.LastSuccess = at
		return
	}
	st.s.AttemptsFailed++
	st.s.LastFailure = at
}

func (st *stats) drill(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err == nil {
		st.s.DrillsPassed++
	} else {
		st.s.DrillsFailed++
	}
}

// Stats returns the counts so far. Safe to call from any goroutine.
func (s *Scheduler) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.s
}
