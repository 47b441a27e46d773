package catalog

import (
	"time"
)

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
	// Damaged says the failure was the snapshot's own (its bytes, its archive, its rows), not
	// the drill server's; only such a failure stops retention counting the snapshot.
	Damaged bool `json:"damaged,omitempty"`
}

// Check is the latest verification of a snapshot that reached a verdict: passed, or found the
// snapshot damaged. A verification that could not run (no identity, a store down) leaves none.
type Check struct {
	At     time.Time `json:"at"`
	OK     bool      `json:"ok"`
	Checks []string  `json:"checks"`
	Error  string    `json:"error,omitempty"`
}

// pinRecord is a pin's content.
type pinRecord struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// intentRecord is a writer's intent: the data object it is about to write.
type intentRecord struct {
	Snapshot string    `json:"snapshot"`
	Data     []string  `json:"data"` // every data object (part) it writes
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	At       time.Time `json:"at"`
}

// leaseRecord is a reader's lease.
type leaseRecord struct {
	Snapshot string    `json:"snapshot"`
	Purpose  string    `json:"purpose"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	At       time.Time `json:"at"`
}
