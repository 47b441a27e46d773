package httpapi

import (
	"fmt"
	"strings"
	"time"
)

// State is a target's freshness as one word: the badge on the page, the "state" in /readyz.
type State string

// The freshness states, from good to bad.
const (
	// StateOK: the newest snapshot is within the limit and the newest attempt succeeded.
	StateOK State = "ok"
	// StateFailing: the newest attempt failed. The target stays fresh (and ready) until its
	// newest snapshot passes the limit.
	StateFailing State = "failing"
	// StateLate: the newest snapshot is past the limit and no attempt has failed since: the
	// schedule is not producing snapshots (stopped loop, stuck dump, wrong clock).
	StateLate State = "late"
	// StateNone: no snapshot has been taken yet.
	StateNone State = "none"
)

// maxReasonError bounds how much of an error a one-line reason carries; the page shows the
// whole error elsewhere.
const maxReasonError = 300

// Verdict is the freshness of one target at one instant.
type Verdict struct {
	State State
	// Fresh reports that the newest snapshot is younger than Limit: what /readyz and
	// pgsnap_fresh report. A failing target can still be fresh.
	Fresh  bool
	Reason string        // one line for people, e.g. "newest snapshot 26h ago, limit 25h"
	Newest time.Time     // when the newest committed snapshot finished; zero when none
	Age    time.Duration // now - Newest; zero when none (or when Newest is in the future)
	Limit  time.Duration // Interval + StaleAfter
}

// Freshness judges target t at now. A target is fresh when the newest snapshot that passed its
// commit gate (the later of LastSuccess and the newest listed snapshot) finished less than
// Interval + StaleAfter before now.
func Freshness(t Target, now time.Time) Verdict {
	v := Verdict{Newest: t.newest(), Limit: t.Interval + max(t.StaleAfter, 0)}
	var failure string
	if !t.LastFailure.IsZero() && t.LastFailure.After(v.Newest) {
		failure = fmt.Sprintf("last attempt failed %s ago", humanDuration(now.Sub(t.LastFailure)))
		if t.LastError != "" {
			failure += ": " + oneLine(t.LastError, maxReasonError)
		}
	}
	if v.Newest.IsZero() {
		v.State, v.Reason = StateNone, join("no snapshot yet", failure)
		return v
	}
	v.Age = max(now.Sub(v.Newest), 0)
	v.Fresh = v.Age < v.Limit
	age := fmt.Sprintf("newest snapshot %s ago, limit %s", humanDuration(v.Age), humanDuration(v.Limit))
	switch {
	case failure != "" && v.Fresh:
		v.State, v.Reason = StateFailing, join(failure, age)
	case failure != "":
		v.State, v.Reason = StateFailing, join(age, failure)
	case !v.Fresh:
		v.State, v.Reason = StateLate, age
	default:
		v.State, v.Reason = StateOK, age
	}
	return v
}

// Report is a Status with every target judged: what the page, /status.json and [WriteText]
// show.
type Report struct {
	Now     time.Time
	Version string
	Ready   bool // every target is fresh (vacuously true without targets)
	Healthy bool // every target's scheduler loop is alive
	Targets []TargetReport
}

// TargetReport is one target with its verdict.
type TargetReport struct {
	Target  Target
	Verdict Verdict
}

// Summarize judges every target of st at st.Now (time.Now() when zero).
func Summarize(st Status) Report {
	now := st.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := Report{Now: now, Version: st.Version, Ready: true, Healthy: true}
	for _, t := range st.Targets {
		v := Freshness(t, now)
		r.Ready = r.Ready && v.Fresh
		r.Healthy = r.Healthy && t.Alive
		r.Targets = append(r.Targets, TargetReport{Target: t, Verdict: v})
	}
	return r
}

func join(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

// oneLine folds s onto one line and cuts it to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// humanDuration renders d with at most two units, rounded down: "26h", "1h30m", "3d4h",
// "45s", "0s".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Second:
		if d == 0 {
			return "0s"
		}
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return two(int(d/time.Minute), "m", int(d%time.Minute/time.Second), "s")
	case d < 48*time.Hour:
		return two(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "m")
	default:
		return two(int(d/(24*time.Hour)), "d", int(d%(24*time.Hour)/time.Hour), "h")
	}
}

func two(a int, ua string, b int, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, ua)
	}
	return fmt.Sprintf("%d%s%d%s", a, ua, b, ub)
}

// humanBytes renders n in binary units with three significant digits: "512 B", "1.50 KiB",
// "23.4 GiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 5 {
		f /= unit
		i++
	}
	suffix := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[i]
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f %s", f, suffix)
	case f < 100:
		return fmt.Sprintf("%.1f %s", f, suffix)
	default:
		return fmt.Sprintf("%.0f %s", f, suffix)
	}
}

// humanTime renders t in UTC to the second; "never" when zero.
func humanTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// relative renders t against now: "3h ago", "in 5m", "" when t is zero.
func relative(t, now time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case t.After(now):
		return "in " + humanDuration(t.Sub(now))
	default:
		return humanDuration(now.Sub(t)) + " ago"
	}
}
