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
	// prior are the records of earlier runs (RESULTS.md), shown beside the peak-RSS goal.
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

// pgsnapKeys are the pgsnap commands whose peak RSS the memory goal bounds and the records keep.
var pgsnapKeys = []string{keySnapshot, keySnapshotJobs, keySnapshotAge, keyRestore, keyRestoreAge}

// peakRSS is the largest peak RSS of the pgsnap commands (snapshots and restores) and the
// command it belongs to; 0 and nil if none has a result.
func (s setResult) peakRSS() (int64, *result) {
	var rss int64
	var top *result
	for _, key := range pgsnapKeys {
		for _, rs := range [][]result{s.snapshots, s.restores} {
			if r := find(rs, key); r != nil && r.err == nil && len(r.samples) > 0 {
				if m := statsOf(r.samples).maxRSS; m > rss {
					rss, top = m, r
				}
			}
		}
	}
	return rss, top
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
	settings := "defaults (commit gate included)"
	if len(r.passed) > 0 {
		settings = "from the environment: " + strings.Join(r.passed, ", ")
	}
	p("- pgsnap settings: %s. The harness sets SNAPSHOT_DUMP_JOBS=1, and 2 on the SNAPSHOT_DUMP_JOBS row; the age runs add "+
		"SNAPSHOT_AGE_RECIPIENTS (restore: SNAPSHOT_AGE_IDENTITY_FILE).\n", settings)
	p("- Method: one warm-up run of every command, then %s running each command once in table order "+
		"(so any two alternate A B A B); medians with (min–max) over the timed runs. Ratios are paired: "+
		"ratio_i = a_i/b_i for the runs of round i, reported as their median (min–max). Client CPU is user+system "+
		"time of the whole client process tree (pg_dump and pg_restore children included), from wait4; the C "+
		"pipeline runs as two processes the harness pipes together (no shell), its CPU the sum of both, its peak RSS "+
		"the larger. Server CPU is that of the postmaster and its children during the run (/proc). Peak RSS is the "+
		"largest single process of the client tree. Outputs are removed and restore targets recreated between "+
		"runs, untimed.\n", plural(r.pairs, "round"))
	p("- The whole run took %s.\n", r.took.Round(time.Second))
	for _, s := range r.sets {
		b.WriteString("\n")
		b.WriteString(s.markdown())
		b.WriteString("\n")
		b.WriteString(s.estimateInputs())
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
	pipe, fc := samplesOf(s.snapshots, keyPipeline), samplesOf(s.snapshots, keyDumpFc)
	p("| command | wall median (min–max) | client CPU median | server CPU median | peak RSS max | output size | " +
		"wall vs C pipeline | client CPU vs C pipeline | size vs pg_dump -Fc |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range s.snapshots {
		if r.err != nil {
			p("| %s | error: %s | | | | | | | |\n", cell(r.label), errorText(r.err))
			continue
		}
		st := statsOf(r.samples)
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(labelOf(r)), formatRange(st.wall), formatSeconds(st.cpu.median),
			formatSeconds(st.serverCPU.median), formatMiB(st.maxRSS), formatBytes(st.size.median),
			pairedCell(r.samples, pipe, wallOf), pairedCell(r.samples, pipe, cpuOf), pairedCell(r.samples, fc, sizeOf))
	}
	b.WriteString("\n")
	pr, pz := samplesOf(s.restores, keyPgRestore), samplesOf(s.restores, keyPgRestoreZ0)
	p("| restore | wall median (min–max) | client CPU median | server CPU median | peak RSS max | input size | " +
		"wall vs pg_restore -j2 of the -Fc file | wall vs pg_restore -j2 of the -Fc -Z0 file |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, r := range s.restores {
		if r.err != nil {
			p("| %s | error: %s | | | | | | |\n", cell(r.label), errorText(r.err))
			continue
		}
		st := statsOf(r.samples)
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(r.label), formatRange(st.wall), formatSeconds(st.cpu.median),
			formatSeconds(st.serverCPU.median), formatMiB(st.maxRSS), formatBytes(st.size.median),
			pairedCell(r.samples, pr, wallOf), pairedCell(r.samples, pz, wallOf))
	}
	return b.String()
}

// labelOf is the command's label, for the SNAPSHOT_DUMP_JOBS row with how many streams it ran.
func labelOf(r result) string {
	if r.key != keySnapshotJobs {
		return r.label
	}
	if n := maxStreams(r.samples); n > 1 {
		return fmt.Sprintf("%s (%d streams)", r.label, n)
	}
	return r.label + " (" + noteOneStream + ")"
}

// pairedCell is the paired ratio of(a_i)/of(base_i) as "0.94x (0.85–1.10)"; "n/a" without a base.
func pairedCell(a, base []sample, of func(sample) float64) string {
	if len(base) == 0 {
		return "n/a"
	}
	return formatRatioRange(paired(a, base, of))
}

// plural is "1 round", "3 rounds".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// cell makes text safe in a markdown table cell.
func cell(text string) string { return strings.ReplaceAll(text, "|", "\\|") }

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
