package main

import (
	"fmt"
	"strings"
)

// goal is one target, judged on one run.
type goal struct {
	what  string
	value string // the measured value with its min–max, or why there is none
	met   bool
	known bool // false: the run could not judge it
}

// Limits of the goals. Speed is held to the C pipeline measured in the same run, restore to
// pg_restore -j2 of pg_dump's own archive.
const (
	maxWallVsPipeline     = 1.00
	maxHardWallVsPipeline = 1.05
	maxSizeVsFc           = 0.85
	maxRestoreVsPg        = 1.10
	maxJobsVsOneStream    = 1.05
	maxPeakRSS            = 96 << 20
)

// goalsFor judges the data set's goals. Every ratio is paired (samples of the same round) and
// judged by its median. prior holds earlier runs' records, shown beside the peak RSS.
func goalsFor(s setResult, size string, prior []record) []goal {
	snap, pipe := samplesOf(s.snapshots, keySnapshot), samplesOf(s.snapshots, keyPipeline)
	switch s.name {
	case "hard":
		return []goal{
			atMost("snapshot wall ≤ 1.05x the C pipeline `pg_dump -Fc -Z0 | zstd -T0 -1`", snap, pipe, wallOf, maxHardWallVsPipeline),
			peakRSSGoal(s, size, prior),
		}
	case "bench":
		fc := samplesOf(s.snapshots, keyDumpFc)
		restore, pgRestore := samplesOf(s.restores, keyRestore), samplesOf(s.restores, keyPgRestore)
		return []goal{
			atMost("snapshot wall ≤ 1.00x the C pipeline `pg_dump -Fc -Z0 | zstd -T0 -1` (one stream, encryption off)", snap, pipe, wallOf, maxWallVsPipeline),
			atMost("output size ≤ 0.85x `pg_dump -Fc`", snap, fc, sizeOf, maxSizeVsFc),
			atMost("restore `--jobs 2` wall, row-count proof included, ≤ 1.10x `pg_restore -j2` of the `pg_dump -Fc` file", restore, pgRestore, wallOf, maxRestoreVsPg),
			jobsGoal(s),
			peakRSSGoal(s, size, prior),
		}
	}
	return nil
}

// samplesOf returns the samples of the command with key, nil when it failed or did not run.
func samplesOf(results []result, key string) []sample {
	r := find(results, key)
	if r == nil || r.err != nil {
		return nil
	}
	return r.samples
}

// atMost judges the paired ratio of(a_i)/of(base_i) ≤ limit by its median.
func atMost(what string, a, base []sample, of func(sample) float64, limit float64) goal {
	if len(a) == 0 || len(base) == 0 {
		return goal{what: what, value: "not measured (a command failed)"}
	}
	r := paired(a, base, of)
	if r.n == 0 {
		return goal{what: what, value: "n/a"}
	}
	return goal{what: what, value: formatRatioRange(r), met: r.median <= limit, known: true}
}

// jobsGoal holds pgsnap with SNAPSHOT_DUMP_JOBS=2 to at most 1.05x the wall of one stream. A
// binary that wrote no parts ran one stream both times: the goal cannot be judged.
func jobsGoal(s setResult) goal {
	const what = "`SNAPSHOT_DUMP_JOBS=2` snapshot wall ≤ 1.05x one stream"
	jobs := samplesOf(s.snapshots, keySnapshotJobs)
	g := atMost(what, jobs, samplesOf(s.snapshots, keySnapshot), wallOf, maxJobsVsOneStream)
	if g.known && maxStreams(jobs) <= 1 {
		return goal{what: what, value: noteOneStream + "; it ran " + g.value + " of one stream"}
	}
	return g
}

// maxStreams is the most pg_dump streams any of the samples ran.
func maxStreams(samples []sample) int {
	n := 0
	for _, s := range samples {
		n = max(n, s.streams)
	}
	return n
}

// peakRSSGoal bounds the peak RSS of every pgsnap command of the run, at any size. Earlier
// runs' records of the other sizes (RESULTS.md) are shown for comparison, not judged: they may
// come from another binary.
func peakRSSGoal(s setResult, size string, prior []record) goal {
	const what = "peak RSS ≤ 96 MiB at any size (every pgsnap command of the run)"
	rss, top := s.peakRSS()
	if top == nil {
		return goal{what: what, value: "not measured (every pgsnap command failed)"}
	}
	peaks := over(top.samples, func(x sample) float64 { return float64(x.maxRSS) / (1 << 20) })
	value := fmt.Sprintf("%s in %s (its runs %s–%s MiB)", formatMiB(rss), top.label, formatNumber(peaks.min), formatNumber(peaks.max))
	if others := otherSizes(s.name, size, prior); others != "" {
		value += "; newest records of other sizes: " + others
	}
	return goal{what: what, value: value, met: rss <= maxPeakRSS, known: true}
}

// otherSizes lists the newest record of each other size of the data set: "medium 49.9 MiB
// (2026-11-25)".
func otherSizes(data, size string, prior []record) string {
	var out []string
	for _, other := range []string{"small", "medium", "default"} {
		if other == size {
			continue
		}
		for _, p := range prior { // newest first
			if p.data == data && p.size == other && p.peakRSS > 0 {
				out = append(out, fmt.Sprintf("%s %s (%s)", other, formatMiB(p.peakRSS), p.date))
				break
			}
		}
	}
	return strings.Join(out, ", ")
}
