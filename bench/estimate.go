package main

import (
	"fmt"
	"math"
	"strings"
)

// estimateRow is one input of the wall-time estimate for larger machines.
type estimateRow struct {
	what, from string
	value      summary
}

// estimateInputs renders the figures bench/README.md's "Expected wall time of a 100 GB database
// on 16 cores" starts from: database MB/s per pg_dump stream, and the CPU seconds each stage
// spends per GB of archive (this run's pg_dump -Fc -Z0 archive), on the client from rusage and
// on the server from /proc. Medians with (min–max) over the timed runs; differences are paired
// by round.
func (s setResult) estimateInputs() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Inputs of the wall-time estimate for larger machines (bench/README.md); per GB of archive means per GB of this run's `pg_dump -Fc -Z0` archive (%s):\n\n",
		formatBytes(float64(s.z0Bytes)))
	p("| input | median (min–max) | from |\n|---|---|---|\n")
	for _, r := range s.estimateRows() {
		p("| %s | %s | %s |\n", cell(r.what), formatNumberRange(r.value), cell(r.from))
	}
	return b.String()
}

func (s setResult) estimateRows() []estimateRow {
	snaps := func(key string) []sample { return samplesOf(s.snapshots, key) }
	rests := func(key string) []sample { return samplesOf(s.restores, key) }
	dbMB := float64(s.dbBytes) / 1e6
	archiveGB := float64(s.z0Bytes) / 1e9
	if s.z0Bytes <= 0 {
		archiveGB = math.NaN()
	}
	// perStream is database MB/s per pg_dump stream when the command ran streams of them.
	perStream := func(streams func(sample) int) func(sample) float64 {
		return func(x sample) float64 { return dbMB / x.wall.Seconds() / float64(max(1, streams(x))) }
	}
	one := func(sample) int { return 1 }
	perGB := func(cpu func(sample) float64) func(sample) float64 {
		return func(x sample) float64 { return cpu(x) / archiveGB }
	}
	server := func(x sample) float64 {
		if x.serverCPU < 0 {
			return math.NaN()
		}
		return x.serverCPU.Seconds()
	}
	piece := func(i int) func(sample) float64 {
		return func(x sample) float64 {
			if len(x.pipe) <= i {
				return math.NaN()
			}
			return x.pipe[i].Seconds()
		}
	}
	// withoutDump is pgsnap's client CPU less the C pipeline's pg_dump of the same round: what
	// pgsnap itself spends beside its pg_dump child, which writes into a pipe as that one does.
	withoutDump := func(key string) summary {
		return pairedOf(snaps(key), snaps(keyPipeline), func(a, b sample) float64 {
			return (a.cpu.Seconds() - piece(0)(b)) / archiveGB
		})
	}
	return []estimateRow{
		{"database MB/s per stream: pg_dump -Fc -Z0 -f FILE", "database size / wall", over(snaps(keyDumpZ0), perStream(one))},
		{"database MB/s per stream: " + labelPipeline, "database size / wall", over(snaps(keyPipeline), perStream(one))},
		{"database MB/s per stream: pgsnap snapshot", "database size / wall", over(snaps(keySnapshot), perStream(one))},
		{"database MB/s per stream: pg_dump -Fd -j2 -Z0", "database size / wall / 2", over(snaps(keyDumpDir), perStream(func(sample) int { return dumpJobs }))},
		{"database MB/s per stream: " + labelSnapshotJobs, "database size / wall / streams in the manifest",
			over(snaps(keySnapshotJobs), perStream(func(x sample) int { return x.streams }))},
		{"client CPU s per GB of archive: pg_dump writing into a pipe", "rusage of pg_dump in the C pipeline", over(snaps(keyPipeline), perGB(piece(0)))},
		{"client CPU s per GB of archive: zstd -T0 -1", "rusage of zstd in the C pipeline", over(snaps(keyPipeline), perGB(piece(1)))},
		{"client CPU s per GB of archive: pg_dump -Fc -Z0 -f FILE", "rusage", over(snaps(keyDumpZ0), perGB(cpuOf))},
		{"client CPU s per GB of archive: pgsnap snapshot without its pg_dump (counter, zstd, SHA-256, store, commit gate)",
			"pgsnap's tree rusage less the C pipeline's pg_dump, same round", withoutDump(keySnapshot)},
		{"client CPU s per GB of archive: pgsnap snapshot (age) without its pg_dump (the same, plus age)",
			"pgsnap's tree rusage less the C pipeline's pg_dump, same round", withoutDump(keySnapshotAge)},
		{"client CPU s per GB of archive: pgsnap restore --jobs 2 (with its pg_restore)", "rusage", over(rests(keyRestore), perGB(cpuOf))},
		{"client CPU s per GB of archive: pg_restore -j2 of the -Fc -Z0 file", "rusage", over(rests(keyPgRestoreZ0), perGB(cpuOf))},
		{"server CPU s per GB of archive: dump, one stream (COPY TO)", "/proc, during pg_dump -Fc -Z0 -f FILE", over(snaps(keyDumpZ0), perGB(server))},
		{"server CPU s per GB of archive: dump, two streams (COPY TO)", "/proc, during pg_dump -Fd -j2 -Z0", over(snaps(keyDumpDir), perGB(server))},
		{"server CPU s per GB of archive: pgsnap snapshot", "/proc, during pgsnap snapshot", over(snaps(keySnapshot), perGB(server))},
		{"server CPU s per GB of archive: restore (COPY FROM, indexes, WAL)", "/proc, during pg_restore -j2 of the -Fc -Z0 file",
			over(rests(keyPgRestoreZ0), perGB(server))},
		{"server CPU s per GB of archive: pgsnap restore --jobs 2", "/proc, during pgsnap restore --jobs 2", over(rests(keyRestore), perGB(server))},
	}
}
