package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// sample is one timed run of a command.
type sample struct {
	// round is the timed round (1..pairs) the run belongs to: ratios pair runs of one round.
	round int
	wall  time.Duration
	// cpu is user+system time of the process and every descendant it waited for (wait4's
	// rusage): for pgsnap that includes its pg_dump and pg_restore children. For a pipeline the
	// harness runs itself, the sum of its programs.
	cpu time.Duration
	// pipe is each program's own CPU time when the harness ran a pipeline (producer, consumer);
	// nil otherwise.
	pipe []time.Duration
	// serverCPU is the PostgreSQL server's CPU time during the run (serverMeter); negative
	// when it could not be read.
	serverCPU time.Duration
	// maxRSS is the peak resident set of the largest single process in that tree, in bytes.
	maxRSS int64
	// size is the bytes the command wrote (snapshots, dumps) or read (restores).
	size int64
	// streams is how many pg_dump streams a pgsnap snapshot ran: the parts in its manifest, or
	// 1 when it has none. 0 for other commands.
	streams int
}

// summary is the median and the range of a set of measurements.
type summary struct {
	n                int
	median, min, max float64
}

// summarize returns the median, minimum and maximum of xs; n is 0 for no values.
func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{median: math.NaN(), min: math.NaN(), max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return summary{n: len(s), median: med, min: s[0], max: s[len(s)-1]}
}

// stats holds the summaries of one command's timed runs.
type stats struct {
	wall, cpu, size summary // seconds, seconds, bytes
	serverCPU       summary // seconds, over the runs where it was read
	maxRSS          int64   // the largest of all runs, bytes
}

func statsOf(samples []sample) stats {
	var wall, cpu, server, size []float64
	var rss int64
	for _, s := range samples {
		wall = append(wall, s.wall.Seconds())
		cpu = append(cpu, s.cpu.Seconds())
		if s.serverCPU >= 0 {
			server = append(server, s.serverCPU.Seconds())
		}
		size = append(size, float64(s.size))
		rss = max(rss, s.maxRSS)
	}
	return stats{wall: summarize(wall), cpu: summarize(cpu), serverCPU: summarize(server), size: summarize(size), maxRSS: rss}
}

// Measures of a sample, for paired and over.
func wallOf(s sample) float64 { return s.wall.Seconds() }
func cpuOf(s sample) float64  { return s.cpu.Seconds() }
func sizeOf(s sample) float64 { return float64(s.size) }

// paired summarizes the ratios of(a_i)/of(b_i) over the rounds i that both a and b ran: the
// median of those ratios and their range. n is 0 when no round has both (or no usable ratio).
func paired(a, b []sample, of func(sample) float64) summary {
	return pairedOf(a, b, func(x, y sample) float64 { return ratio(of(x), of(y)) })
}

// pairedOf summarizes f(a_i, b_i) over the rounds i that both a and b ran, skipping values that
// are not finite.
func pairedOf(a, b []sample, f func(a, b sample) float64) summary {
	base := make(map[int]sample, len(b))
	for _, s := range b {
		base[s.round] = s
	}
	var xs []float64
	for _, s := range a {
		if t, ok := base[s.round]; ok {
			if x := f(s, t); finite(x) {
				xs = append(xs, x)
			}
		}
	}
	return summarize(xs)
}

// over summarizes of(s) over the samples, skipping values that are not finite.
func over(samples []sample, of func(sample) float64) summary {
	var xs []float64
	for _, s := range samples {
		if x := of(s); finite(x) {
			xs = append(xs, x)
		}
	}
	return summarize(xs)
}

// ratio is a/b, NaN when either is unknown or b is not positive.
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b <= 0 {
		return math.NaN()
	}
	return a / b
}

// formatRatio renders a ratio as "0.76x"; an unknown one as "n/a".
func formatRatio(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "n/a"
	case r >= 10:
		return fmt.Sprintf("%.1fx", r)
	default:
		return fmt.Sprintf("%.2fx", r)
	}
}

// formatRatioRange renders a summary of ratios as "0.94x (0.85–1.10)"; none as "n/a".
func formatRatioRange(s summary) string {
	if s.n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s (%s–%s)", formatRatio(s.median), trimX(formatRatio(s.min)), trimX(formatRatio(s.max)))
}

func trimX(r string) string { return strings.TrimSuffix(r, "x") }

// formatNumberRange renders a summary of plain numbers as "12.3 (11.0–14.1)"; none as "n/a".
func formatNumberRange(s summary) string {
	if s.n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s (%s–%s)", formatNumber(s.median), formatNumber(s.min), formatNumber(s.max))
}

// formatNumber renders x with three significant figures or more, never in exponent form.
func formatNumber(x float64) string {
	switch a := math.Abs(x); {
	case math.IsNaN(x):
		return "n/a"
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

// formatSeconds renders seconds with precision that suits their magnitude.
func formatSeconds(s float64) string {
	switch {
	case math.IsNaN(s):
		return "n/a"
	case s < 10:
		return fmt.Sprintf("%.2f s", s)
	case s < 100:
		return fmt.Sprintf("%.1f s", s)
	default:
		return fmt.Sprintf("%.0f s", s)
	}
}

// formatRange renders a median with its range: "1.23 s (1.20–1.31)".
func formatRange(s summary) string {
	if s.n == 0 {
		return "n/a"
	}
	num := func(x float64) string {
		if x < 10 {
			return fmt.Sprintf("%.2f", x)
		}
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%s (%s–%s)", formatSeconds(s.median), num(s.min), num(s.max))
}

// formatBytes renders a size in decimal units (MB, GB), as disks and pg_size_pretty's
// readers expect sizes of files and databases.
func formatBytes(b float64) string {
	switch {
	case math.IsNaN(b) || b < 0:
		return "n/a"
	case b >= 1e9:
		return fmt.Sprintf("%.2f GB", b/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.1f MB", b/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f kB", b/1e3)
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}

// formatMiB renders a memory size in MiB, the unit of the peak RSS goal.
func formatMiB(b int64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
