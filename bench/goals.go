package main

import (
	"fmt"
	"math"
)

// goal is one target from the issue, judged on one run.
type goal struct {
	what  string
	value string // the measured value, or why there is none
	met   bool
	known bool // false: the run could not judge it
}

// Limits of the goals.
const (
	maxWallVsZ0      = 0.80
	maxWallVsZ0Age   = 0.85
	maxSizeVsFc      = 0.85
	minSpeedupVsFc   = 3.5
	maxCPUVsFc       = 0.30
	maxPeakRSS       = 96 << 20
	maxRSSGrowth     = 1.25 // "flat": the larger database's peak RSS at most this times the smaller's
	maxRestoreVsPg   = 1.10
	maxHardWallVsZ0  = 1.05
	minHardSpeedupFc = 4.0
)

// goalsFor judges the data set's goals. prior holds earlier runs' records, for peak-RSS
// flatness across database sizes.
func goalsFor(s setResult, size string, prior []record) []goal {
	snap, age := statsFor(s.snapshots, keySnapshot), statsFor(s.snapshots, keySnapshotAge)
	z0, fc := statsFor(s.snapshots, keyDumpZ0), statsFor(s.snapshots, keyDumpFc)
	wall := func(st *stats) float64 { return st.wall.median }
	switch s.name {
	case "hard":
		return []goal{
			atMost("snapshot wall ≤ 1.05x `pg_dump -Fc -Z0 -f FILE`", snap, z0, wall, maxHardWallVsZ0),
			speedup("snapshot ≥ 4x faster than `pg_dump -Fc`", snap, fc, minHardSpeedupFc),
		}
	case "bench":
		restore, pgRestore := statsFor(s.restores, keyRestore), statsFor(s.restores, keyPgRestore)
		return []goal{
			atMost("snapshot wall ≤ 0.80x `pg_dump -Fc -Z0 -f FILE` (encryption off)", snap, z0, wall, maxWallVsZ0),
			atMost("snapshot wall ≤ 0.85x `pg_dump -Fc -Z0 -f FILE` with age on", age, z0, wall, maxWallVsZ0Age),
			atMost("output size ≤ 0.85x `pg_dump -Fc`", snap, fc, func(st *stats) float64 { return st.size.median }, maxSizeVsFc),
			speedup("snapshot ≥ 3.5x faster than `pg_dump -Fc`", snap, fc, minSpeedupVsFc),
			atMost("client CPU (whole tree) ≤ 0.30x `pg_dump -Fc`", snap, fc, func(st *stats) float64 { return st.cpu.median }, maxCPUVsFc),
			peakRSSGoal(s),
			flatRSSGoal(s, size, prior),
			atMost("restore wall ≤ 1.10x `pg_restore -j2` of the `pg_dump -Fc` file", restore, pgRestore, wall, maxRestoreVsPg),
		}
	}
	return nil
}

// atMost judges of(a)/of(base) ≤ limit.
func atMost(what string, a, base *stats, of func(*stats) float64, limit float64) goal {
	if a == nil || base == nil {
		return goal{what: what, value: "not measured (a command failed)"}
	}
	r := ratio(of(a), of(base))
	if !finite(r) {
		return goal{what: what, value: "n/a"}
	}
	return goal{what: what, value: formatRatio(r), met: r <= limit, known: true}
}

// speedup judges wall(base)/wall(a) ≥ limit.
func speedup(what string, a, base *stats, limit float64) goal {
	if a == nil || base == nil {
		return goal{what: what, value: "not measured (a command failed)"}
	}
	r := ratio(base.wall.median, a.wall.median)
	if !finite(r) {
		return goal{what: what, value: "n/a"}
	}
	return goal{what: what, value: formatRatio(r) + " faster", met: r >= limit, known: true}
}

func peakRSSGoal(s setResult) goal {
	const what = "peak RSS ≤ 96 MiB (pgsnap snapshot, with and without age)"
	rss := s.peakRSS()
	if rss == 0 {
		return goal{what: what, value: "not measured (pgsnap snapshot failed)"}
	}
	return goal{what: what, value: formatMiB(rss), met: rss <= maxPeakRSS, known: true}
}

// flatSizes are the two -size values whose peak RSS the flatness goal compares.
var flatSizes = map[string]string{"medium": "default", "default": "medium"}

// flatRSSGoal compares this run's peak RSS with the newest earlier run of the other size
// (medium ~0.7 GB, default ~2.6 GB) on the same data set.
func flatRSSGoal(s setResult, size string, prior []record) goal {
	const what = "peak RSS flat between a ~0.7 GB (`-size medium`) and a ~2.6 GB (`-size default`) database (≤ 1.25x)"
	other, ok := flatSizes[size]
	if !ok {
		return goal{what: what, value: "needs `-size medium` and `-size default` runs"}
	}
	rss := s.peakRSS()
	if rss == 0 {
		return goal{what: what, value: "not measured (pgsnap snapshot failed)"}
	}
	for _, p := range prior { // newest first
		if p.data != s.name || p.size != other || p.peakRSS <= 0 {
			continue
		}
		small, large := p, record{size: size, dbBytes: s.dbBytes, peakRSS: rss}
		if large.dbBytes < small.dbBytes {
			small, large = large, small
		}
		r := float64(large.peakRSS) / float64(small.peakRSS)
		value := fmt.Sprintf("%s: %s, %s: %s (%s; the %s run of %s)",
			formatBytes(float64(small.dbBytes)), formatMiB(small.peakRSS),
			formatBytes(float64(large.dbBytes)), formatMiB(large.peakRSS), formatRatio(r), p.size, p.date)
		return goal{what: what, value: value, met: r <= maxRSSGrowth && !math.IsNaN(r), known: true}
	}
	return goal{what: what, value: fmt.Sprintf("no `-size %s` run of data set %s in RESULTS.md yet: run it too", other, s.name)}
}
