package httpapi

import (
	"encoding/json"
	"math"
	"time"
)

// The JSON forms below are a public interface (/status.json, /readyz, `pgsnap status --json`):
// fields are added, never renamed. Times are RFC 3339 in UTC and left out when unknown;
// durations are float seconds in fields ending in "_seconds"; sizes are bytes.

// MarshalJSON encodes r as /status.json serves it:
//
//	{"now", "version", "ready", "healthy", "targets": [{
//	  "name", "schedule", "alive", "state", "fresh", "reason", "newest", "age_seconds",
//	  "limit_seconds", "next_slot", "interval_seconds", "stale_after_seconds",
//	  "last_success", "last_failure", "last_error", "last_duration_seconds", "last_size_bytes",
//	  "dump_bytes_per_second", "attempts", "retries", "failures": {reason: count},
//	  "snapshots": [{"name", "time", "size_bytes", "duration_seconds", "checks", "drill",
//	                 "missing", "labels"}],
//	  "destinations": [{"name", "snapshots", "bytes", "failures", "incomplete"}],
//	  "drill": {"at", "snapshot", "ok", "error", "duration_seconds"},
//	  "drills_passed", "drills_failed"}]}
func (r Report) MarshalJSON() ([]byte, error) {
	out := jsonReport{
		Now:     r.Now.UTC(),
		Version: r.Version,
		Ready:   r.Ready,
		Healthy: r.Healthy,
		Targets: make([]jsonTarget, 0, len(r.Targets)),
	}
	for _, tr := range r.Targets {
		out.Targets = append(out.Targets, newJSONTarget(tr))
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON wrote: a daemon's /status.json, read back by `pgsnap
// status`. The verdicts are the daemon's, judged at its "now"; durations come back from float
// seconds to the nanosecond's precision of a float64.
func (r *Report) UnmarshalJSON(b []byte) error {
	var in jsonReport
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*r = Report{Now: in.Now, Version: in.Version, Ready: in.Ready, Healthy: in.Healthy}
	for _, t := range in.Targets {
		r.Targets = append(r.Targets, t.report())
	}
	return nil
}

type jsonReport struct {
	Now     time.Time    `json:"now"`
	Version string       `json:"version"`
	Ready   bool         `json:"ready"`
	Healthy bool         `json:"healthy"`
	Targets []jsonTarget `json:"targets"`
}

type jsonTarget struct {
	Name               string            `json:"name"`
	Schedule           string            `json:"schedule"`
	Alive              bool              `json:"alive"`
	State              State             `json:"state"`
	Fresh              bool              `json:"fresh"`
	Reason             string            `json:"reason"`
	Newest             time.Time         `json:"newest,omitzero"`
	Age                float64           `json:"age_seconds"`
	Limit              float64           `json:"limit_seconds"`
	NextSlot           time.Time         `json:"next_slot,omitzero"`
	Interval           float64           `json:"interval_seconds"`
	StaleAfter         float64           `json:"stale_after_seconds"`
	LastSuccess        time.Time         `json:"last_success,omitzero"`
	LastFailure        time.Time         `json:"last_failure,omitzero"`
	LastError          string            `json:"last_error,omitempty"`
	LastDuration       float64           `json:"last_duration_seconds"`
	LastSize           int64             `json:"last_size_bytes"`
	DumpBytesPerSecond float64           `json:"dump_bytes_per_second"`
	Attempts           int64             `json:"attempts"`
	Retries            int64             `json:"retries"`
	Failures           map[string]int64  `json:"failures"`
	Snapshots          []jsonSnapshot    `json:"snapshots"`
	Destinations       []jsonDestination `json:"destinations"`
	Drill              *jsonDrill        `json:"drill,omitempty"`
	DrillsPassed       int64             `json:"drills_passed"`
	DrillsFailed       int64             `json:"drills_failed"`
}

type jsonSnapshot struct {
	Name     string            `json:"name"`
	Time     time.Time         `json:"time"`
	Size     int64             `json:"size_bytes"`
	Duration float64           `json:"duration_seconds"`
	Checks   []string          `json:"checks"`
	Drill    *jsonDrill        `json:"drill,omitempty"`
	Missing  []string          `json:"missing"`
	Labels   map[string]string `json:"labels,omitempty"`
}

type jsonDestination struct {
	Name       string `json:"name"`
	Snapshots  int    `json:"snapshots"`
	Bytes      int64  `json:"bytes"`
	Failures   int64  `json:"failures"`
	Incomplete int    `json:"incomplete"`
}

type jsonDrill struct {
	At       time.Time `json:"at,omitzero"`
	Snapshot string    `json:"snapshot"`
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
	Duration float64   `json:"duration_seconds"`
}

func newJSONTarget(tr TargetReport) jsonTarget {
	t, v := tr.Target, tr.Verdict
	out := jsonTarget{
		Name:               t.Name,
		Schedule:           t.Schedule,
		Alive:              t.Alive,
		State:              v.State,
		Fresh:              v.Fresh,
		Reason:             v.Reason,
		Newest:             utc(v.Newest),
		Age:                v.Age.Seconds(),
		Limit:              v.Limit.Seconds(),
		NextSlot:           utc(t.NextSlot),
		Interval:           t.Interval.Seconds(),
		StaleAfter:         t.StaleAfter.Seconds(),
		LastSuccess:        utc(t.LastSuccess),
		LastFailure:        utc(t.LastFailure),
		LastError:          t.LastError,
		LastDuration:       t.LastDuration.Seconds(),
		LastSize:           t.LastSize,
		DumpBytesPerSecond: t.DumpBytesPerSecond,
		Attempts:           t.Attempts,
		Retries:            t.Retries,
		Failures:           t.Failures,
		Snapshots:          make([]jsonSnapshot, 0, len(t.Snapshots)),
		Destinations:       make([]jsonDestination, 0, len(t.Destinations)),
		Drill:              newJSONDrill(t.Drill),
		DrillsPassed:       t.DrillsPassed,
		DrillsFailed:       t.DrillsFailed,
	}
	if out.Failures == nil {
		out.Failures = map[string]int64{}
	}
	for _, s := range t.Snapshots {
		out.Snapshots = append(out.Snapshots, jsonSnapshot{
			Name:     s.Name,
			Time:     utc(s.Time),
			Size:     s.Size,
			Duration: s.Duration.Seconds(),
			Checks:   nonNil(s.Checks),
			Drill:    newJSONDrill(s.Drill),
			Missing:  nonNil(s.Missing),
			Labels:   s.Labels,
		})
	}
	for _, d := range t.Destinations {
		out.Destinations = append(out.Destinations, jsonDestination(d))
	}
	return out
}

// report is newJSONTarget's inverse.
func (t jsonTarget) report() TargetReport {
	out := Target{
		Name: t.Name, Schedule: t.Schedule, NextSlot: t.NextSlot,
		Interval: seconds(t.Interval), StaleAfter: seconds(t.StaleAfter), Alive: t.Alive,
		LastSuccess: t.LastSuccess, LastFailure: t.LastFailure, LastError: t.LastError,
		LastDuration: seconds(t.LastDuration), LastSize: t.LastSize, DumpBytesPerSecond: t.DumpBytesPerSecond,
		Attempts: t.Attempts, Retries: t.Retries, Failures: t.Failures,
		Drill: t.Drill.drill(), DrillsPassed: t.DrillsPassed, DrillsFailed: t.DrillsFailed,
	}
	for _, s := range t.Snapshots {
		out.Snapshots = append(out.Snapshots, Snapshot{
			Name: s.Name, Time: s.Time, Size: s.Size, Duration: seconds(s.Duration),
			Checks: s.Checks, Drill: s.Drill.drill(), Missing: s.Missing, Labels: s.Labels,
		})
	}
	for _, d := range t.Destinations {
		out.Destinations = append(out.Destinations, Destination(d))
	}
	v := Verdict{State: t.State, Fresh: t.Fresh, Reason: t.Reason, Newest: t.Newest,
		Age: seconds(t.Age), Limit: seconds(t.Limit)}
	return TargetReport{Target: out, Verdict: v}
}

func (d *jsonDrill) drill() *Drill {
	if d == nil {
		return nil
	}
	return &Drill{At: d.At, Snapshot: d.Snapshot, OK: d.OK, Error: d.Error, Duration: seconds(d.Duration)}
}

func seconds(f float64) time.Duration { return time.Duration(math.Round(f * float64(time.Second))) }

func newJSONDrill(d *Drill) *jsonDrill {
	if d == nil {
		return nil
	}
	return &jsonDrill{At: utc(d.At), Snapshot: d.Snapshot, OK: d.OK, Error: d.Error, Duration: d.Duration.Seconds()}
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// probeTarget is one target in the /readyz and /healthz bodies.
type probeTarget struct {
	Name   string `json:"name"`
	State  State  `json:"state,omitempty"`
	Fresh  *bool  `json:"fresh,omitempty"`
	Alive  *bool  `json:"alive,omitempty"`
	Reason string `json:"reason"`
}

// readyBody is the /readyz body: {"ready", "targets": [{"name", "state", "fresh", "reason"}]}.
type readyBody struct {
	Ready   bool          `json:"ready"`
	Error   string        `json:"error,omitempty"`
	Targets []probeTarget `json:"targets"`
}

// healthBody is the /healthz body when unhealthy: {"healthy": false, "error"?, "targets":
// [{"name", "alive", "reason"}]}.
type healthBody struct {
	Healthy bool          `json:"healthy"`
	Error   string        `json:"error,omitempty"`
	Targets []probeTarget `json:"targets"`
}
