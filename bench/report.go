package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// report is one run of the harness, rendered as a markdown section.
type report struct {
	started time.Time
	took    time.Duration
	size    string // -size
	data    string // -data
	pairs   int
	machine machine
	// transport says how every client reaches the server.
	transport string
	// server lists the cluster's settings that matter for the figures.
	server string
	// passed lists the SNAPSHOT_* settings that came from the environment.
	passed []string
	sets   []setResult
	// prior are the records of earlier runs (RESULTS.md), for the peak-RSS flatness goal.
	prior []record
}

// setResult is everything measured on one data set.
type setResult struct {
	name, about string
	dbBytes     int64
	buildTook   time.Duration
	z0Bytes     int64 // the kept pg_dump -Fc -Z0 archive; 0 when unknown
	z0Zstd      int64 // that archive compressed at zstd level 1; 0 when unknown
	snapshots   []result
	restores    []result
}

// peakRSS is the largest peak RSS of pgsnap snapshot runs (with and without age), 0 if none.
func (s setResult) peakRSS() int64 {
	var rss int64
	for _, key := range []string{keySnapshot, keySnapshotAge} {
		if r := find(s.snapshots, key); r != nil && r.err == nil {
			rss = max(rss, statsOf(r.samples).maxRSS)
		}
	}
	return rss
}

// markdown renders the report's section for RESULTS.md, starting with its "## " heading and
// ending with machine-readable records for later runs.
func (r report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("## %s · -size %s · -data %s · %d pairs\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"), r.size, r.data, r.pairs)
	m := r.machine
	p("- Machine: %d cores (%s), %s RAM, Linux %s, load average at start %s.\n",
		m.cores, m.cpuModel, formatGiB(m.memTotal), m.kernel, m.loadAvg)
	p("- PostgreSQL %s (client tools: %s); %s; pgsnap: %s.\n", m.pgServer, m.pgDump, m.goVersion, m.pgsnap)
	p("- Server: %s.\n", r.server)
	p("- Transport: %s.\n", r.transport)
	if len(r.passed) > 0 {
		p("- pgsnap settings from the environment: %s.\n", strings.Join(r.passed, ", "))
	} else {
		p("- pgsnap settings: defaults (commit gate included); the age runs add SNAPSHOT_AGE_RECIPIENTS (restore: SNAPSHOT_AGE_IDENTITY_FILE).\n")
	}
	p("- Method: one warm-up run of every command, then %d rounds running each command once in table order "+
		"(so any two alternate A B A B); medians with (min–max) over the timed runs. CPU is user+system time of "+
		"the whole client process tree (pg_dump and pg_restore children included), from wait4; peak RSS is "+
		"the largest single process of that tree. Server CPU is not counted. Outputs are removed and restore "+
		"targets recreated between runs, untimed.\n", r.pairs)
	p("- The whole run took %s.\n", r.took.Round(time.Second))
	for _, s := range r.sets {
		b.WriteString("\n")
		b.WriteString(s.markdown())
		b.WriteString("\n")
		b.WriteString(renderGoals(goalsFor(s, r.size, r.prior), r.size))
	}
	b.WriteString("\n")
	for _, s := range r.sets {
		if rec, ok := recordOf(s, r.size, r.started); ok {
			b.WriteString(rec.comment())
			b.WriteString("\n")
		}
	}
	return b.String()
}

func (s setResult) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("### Data set %s: %s database\n\n", s.name, formatBytes(float64(s.dbBytes)))
	p("%s; built in %s.", s.about, s.buildTook.Round(time.Second))
	if s.z0Bytes > 0 && s.z0Zstd > 0 {
		p(" Its `pg_dump -Fc -Z0` archive is %s; `zstd -1` makes that %s (%s smaller).",
			formatBytes(float64(s.z0Bytes)), formatBytes(float64(s.z0Zstd)), formatRatio(float64(s.z0Bytes)/float64(s.z0Zstd)))
	}
	b.WriteString("\n\n")
	z0, fc := statsFor(s.snapshots, keyDumpZ0), statsFor(s.snapshots, keyDumpFc)
	p("| command | wall median (min–max) | CPU median | peak RSS max | output size | vs pg_dump -Fc -Z0 (wall / CPU / size) | vs pg_dump -Fc (wall / CPU / size) |\n")
	p("|---|---|---|---|---|---|---|\n")
	for _, r := range s.snapshots {
		if r.err != nil {
			p("| %s | error: %s | | | | | |\n", r.label, errorText(r.err))
			continue
		}
		st := statsOf(r.samples)
		p("| %s | %s | %s | %s | %s | %s | %s |\n", r.label, formatRange(st.wall), formatSeconds(st.cpu.median),
			formatMiB(st.maxRSS), formatBytes(st.size.median), ratios(st, z0, true), ratios(st, fc, true))
	}
	b.WriteString("\n")
	pr := statsFor(s.restores, keyPgRestore)
	p("| restore | wall median (min–max) | CPU median | peak RSS max | input size | vs pg_restore -j2 (wall / CPU) |\n")
	p("|---|---|---|---|---|---|\n")
	for _, r := range s.restores {
		if r.err != nil {
			p("| %s | error: %s | | | | |\n", r.label, errorText(r.err))
			continue
		}
		st := statsOf(r.samples)
		p("| %s | %s | %s | %s | %s | %s |\n", r.label, formatRange(st.wall), formatSeconds(st.cpu.median),
			formatMiB(st.maxRSS), formatBytes(st.size.median), ratios(st, pr, false))
	}
	return b.String()
}

// statsFor returns the stats of the command with key, nil when it has none.
func statsFor(results []result, key string) *stats {
	r := find(results, key)
	if r == nil || r.err != nil || len(r.samples) == 0 {
		return nil
	}
	st := statsOf(r.samples)
	return &st
}

// ratios renders "wall / CPU [/ size]" ratios of st to base; "n/a" without a base.
func ratios(st stats, base *stats, withSize bool) string {
	if base == nil {
		return "n/a"
	}
	out := formatRatio(ratio(st.wall.median, base.wall.median)) + " / " + formatRatio(ratio(st.cpu.median, base.cpu.median))
	if withSize {
		out += " / " + formatRatio(ratio(st.size.median, base.size.median))
	}
	return out
}

func renderGoals(goals []goal, size string) string {
	if len(goals) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Goals")
	if size != "default" {
		b.WriteString(" (set for `-size default`; at this size they are indicative only)")
	}
	b.WriteString(":\n\n")
	for _, g := range goals {
		verdict := "NOT met"
		switch {
		case !g.known:
			verdict = "n/a"
		case g.met:
			verdict = "met"
		}
		fmt.Fprintf(&b, "- **%s**: %s: %s\n", verdict, g.what, g.value)
	}
	return b.String()
}

func formatGiB(b int64) string {
	if b <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}

// finite reports whether x is a usable number.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
