// Package httpapi serves pgsnap's operations surface: /healthz, /readyz, /metrics, a status
// page at / and its JSON form at /status.json.
//
// The package does not know the scheduler: the caller describes what it knows as a [Status]
// value, handed over through [Options.Status] each time a page, a probe or a scrape asks for
// it. Freshness ("are the backups recent enough?") is computed here, once, by [Freshness], so
// the HTTP probes, the metrics, the page and the terminal output of [WriteText] always agree.
package httpapi

import "time"

// Status is everything the operations surface shows, taken at one instant.
type Status struct {
	// Now is when the status was taken; freshness is judged against it. Zero means
	// time.Now(). The HTTP handler overwrites it with [Options.Clock].
	Now     time.Time
	Version string   // pgsnap's version, shown on the page and in pgsnap_build_info
	Targets []Target // one per protected database, in display order; names are unique
}

// Target is the state of one protected database and its schedule.
type Target struct {
	Name     string
	Schedule string    // human description of the schedule, e.g. "daily at 03:00 UTC"
	NextSlot time.Time // the next due slot; zero when unknown or the schedule is disabled

	// Interval is the nominal time between two slots (daily: 24h). For an irregular cron
	// schedule use the longest gap between consecutive slots. With StaleAfter it makes the
	// freshness limit; zero makes every snapshot count as late, never as fresh.
	Interval time.Duration
	// StaleAfter is the grace beyond Interval before the newest snapshot counts as late
	// (SNAPSHOT_STALE_AFTER; the caller applies its default).
	StaleAfter time.Duration
	// Alive reports that the scheduler loop of this target is running: /healthz fails
	// without it.
	Alive bool

	LastSuccess  time.Time     // when the newest committed snapshot finished; zero when none
	LastFailure  time.Time     // when the newest failed attempt ended; zero when none
	LastError    string        // the newest failed attempt's error, already free of secrets
	LastDuration time.Duration // duration of the newest attempt that committed a snapshot
	LastSize     int64         // stored bytes of the newest committed snapshot

	DumpBytesPerSecond float64 // throughput of the newest dump, bytes of dump output per second

	Attempts int64 // snapshot attempts since start, retries included
	Retries  int64 // attempts that were retries of an earlier failed attempt
	// Failures counts failed attempts by reason ("dump", "store", "gate", "timeout", "lock",
	// ...). Reasons are a small fixed set: each becomes a metric series.
	Failures map[string]int64

	Snapshots    []Snapshot    // committed snapshots, newest first; a few are enough
	Destinations []Destination // where snapshots are stored, primary first

	Drill        *Drill // the newest restore drill; nil when none ran
	DrillsPassed int64  // restore drills that passed since start
	DrillsFailed int64  // restore drills that failed since start

	// ShrinkEvents counts the tables found to have lost much of their rows (or vanished)
	// between two snapshots since start; Shrinks are the newest of them.
	ShrinkEvents int64
	Shrinks      []Shrink
}

// Shrink is a table that lost more than SNAPSHOT_SHRINK_ALERT of its rows between two
// snapshots, or vanished; the earlier snapshot is pinned.
type Shrink struct {
	Table            string
	Before, After    int64
	Vanished         bool
	Previous, Latest string
	At               time.Time
}

// Snapshot is one committed snapshot as the page lists it.
type Snapshot struct {
	Name     string
	Time     time.Time     // when the snapshot finished (its manifest was committed)
	Size     int64         // stored bytes
	Duration time.Duration // how long taking it took
	Checks   []string      // checks it passed, e.g. "sha256", "archive"
	Drill    *Drill        // the restore drill run on this snapshot; nil when none
	Missing  []string      // destinations that should hold a copy and do not
	Labels   map[string]string
}

// Destination is one place snapshots of a target are stored.
type Destination struct {
	Name       string
	Snapshots  int   // committed snapshots kept there
	Bytes      int64 // stored bytes of those snapshots
	Failures   int64 // snapshots committed elsewhere that failed to reach it, since start
	Incomplete int   // committed snapshots (stored elsewhere) missing there: sync copies them
}

// Drill is the outcome of one restore drill: a snapshot restored into a scratch database and
// checked.
type Drill struct {
	At       time.Time // when the drill finished
	Snapshot string    // name of the snapshot restored
	OK       bool
	Error    string // why it failed; empty when OK
	Duration time.Duration
}

// newest returns when the newest snapshot that passed its commit gate finished: the later of
// LastSuccess and the listed snapshots' times (either may be missing: LastSuccess is lost on
// restart, the listing may lag a commit).
func (t Target) newest() time.Time {
	n := t.LastSuccess
	for _, s := range t.Snapshots {
		if s.Time.After(n) {
			n = s.Time
		}
	}
	return n
}
