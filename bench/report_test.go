package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// runs makes three samples, rounds 1 to 3, with the given wall and CPU seconds, RSS in MiB and
// size in bytes; the server's CPU is half the wall.
func runs(wall, cpu float64, rssMiB, size int64) []sample {
	var out []sample
	for round := 1; round <= 3; round++ {
		out = append(out, sample{
			round:     round,
			wall:      seconds(wall),
			cpu:       seconds(cpu),
			serverCPU: seconds(wall / 2),
			maxRSS:    rssMiB << 20,
			size:      size,
		})
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// withWalls sets the wall seconds of the samples, round by round.
func withWalls(samples []sample, walls ...float64) []sample {
	for i, w := range walls {
		samples[i].wall = seconds(w)
	}
	return samples
}

// with applies f to every sample.
func with(samples []sample, f func(*sample)) []sample {
	for i := range samples {
		f(&samples[i])
	}
	return samples
}

func benchSet() setResult {
	return setResult{
		name:      "bench",
		about:     "test data",
		dbBytes:   2_600_000_000,
		buildTook: 90 * time.Second,
		z0Bytes:   2_000_000_000,
		z0Zstd:    400_000_000,
		snapshots: []result{
			{key: keySnapshot, label: "pgsnap snapshot", samples: with(withWalls(runs(4, 3, 40, 360_000_000), 3.8, 4, 4.4),
				func(s *sample) { s.streams = 1 })},
			{key: keyPipeline, label: labelPipeline, samples: with(runs(4, 2.5, 12, 390_000_000),
				func(s *sample) { s.pipe = []time.Duration{seconds(1), seconds(1.5)} })},
			{key: keyDumpZ0, label: "pg_dump -Fc -Z0 -f FILE", samples: runs(3.5, 1, 12, 2_000_000_000)},
			{key: keyDumpFc, label: "pg_dump -Fc -f FILE", samples: runs(20, 19, 12, 400_000_000)},
			{key: keySnapshotJobs, label: labelSnapshotJobs, samples: with(runs(4.2, 3.1, 41, 360_000_000),
				func(s *sample) { s.streams = 1 })},
			{key: keyDumpDir, label: "pg_dump -Fd -j2 -Z0 -f DIR", samples: runs(2.5, 1.2, 14, 2_000_000_000)},
			{key: keySnapshotAge, label: "pgsnap snapshot (age)", err: errors.New("snapshot is not encrypted | ignored")},
		},
		restores: []result{
			{key: keyRestore, label: "pgsnap restore --jobs 2", samples: withWalls(runs(10.5, 4, 30, 360_000_000), 10, 10.5, 12)},
			{key: keyPgRestore, label: "pg_restore -j2 (pg_dump -Fc file)", samples: runs(10, 2, 25, 400_000_000)},
			{key: keyPgRestoreZ0, label: "pg_restore -j2 (pg_dump -Fc -Z0 file, offsets set)", samples: runs(8, 0.8, 20, 2_000_000_000)},
			{key: keyRestoreAge, label: "pgsnap restore --jobs 2 (age)", err: errors.New("prepare: no snapshot to restore")},
		},
	}
}

// update rewrites the golden files under testdata: go test ./bench -run Golden -args -update.
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func TestGoldenSetMarkdown(t *testing.T) {
	golden(t, "set.md", benchSet().markdown())
}

func TestGoldenEstimateInputs(t *testing.T) {
	golden(t, "estimate.md", benchSet().estimateInputs())
}

func TestGoals(t *testing.T) {
	prior := []record{
		{data: "hard", size: "medium", date: "2026-01-02", dbBytes: 700_000_000, peakRSS: 10 << 20},
		{data: "bench", size: "medium", date: "2026-01-01", dbBytes: 700_000_000, peakRSS: 36 << 20},
		{data: "bench", size: "medium", date: "2025-12-01", dbBytes: 700_000_000, peakRSS: 20 << 20},
		{data: "bench", size: "small", date: "2025-11-01", dbBytes: 90_000_000, peakRSS: 30 << 20},
		{data: "bench", size: "default", date: "2025-10-01", dbBytes: 2_600_000_000, peakRSS: 99 << 20},
	}
	want := "Goals:\n\n" +
		"- **met**: snapshot wall ≤ 1.00x the C pipeline `pg_dump -Fc -Z0 | zstd -T0 -1` (one stream, encryption off): 1.00x (0.95–1.10)\n" +
		"- **NOT met**: output size ≤ 0.85x `pg_dump -Fc`: 0.90x (0.90–0.90)\n" +
		"- **met**: restore `--jobs 2` wall, row-count proof included, ≤ 1.10x `pg_restore -j2` of the `pg_dump -Fc` file: 1.05x (1.00–1.20)\n" +
		"- **n/a**: `SNAPSHOT_DUMP_JOBS=2` snapshot wall ≤ 1.05x one stream: one stream: the manifests have no parts (a binary without SNAPSHOT_DUMP_JOBS, or a database with too few tables to split); " +
		"it ran 1.05x (0.95–1.11) of one stream\n" +
		"- **met**: peak RSS ≤ 96 MiB at any size (every pgsnap command of the run): 41.0 MiB in pgsnap snapshot, SNAPSHOT_DUMP_JOBS=2 " +
		"(its runs 41.0–41.0 MiB); newest records of other sizes: small 30.0 MiB (2025-11-01), medium 36.0 MiB (2026-01-01)\n"
	if diff := cmp.Diff(want, renderGoals(goalsFor(benchSet(), "default", prior), "default")); diff != "" {
		t.Errorf("goals mismatch (-want +got):\n%s", diff)
	}
}

func TestGoalsAtOtherSizes(t *testing.T) {
	goals := goalsFor(benchSet(), "small", nil)
	if got := renderGoals(goals, "small"); !strings.HasPrefix(got, "Goals (set for `-size default`; at this size they are indicative only):") {
		t.Errorf("renderGoals at small starts %q, want the indicative-only note", got[:40])
	}
	if rss := goals[len(goals)-1]; rss.value != "41.0 MiB in pgsnap snapshot, SNAPSHOT_DUMP_JOBS=2 (its runs 41.0–41.0 MiB)" {
		t.Errorf("peak RSS value without records = %q", rss.value)
	}
}

func TestJobsGoal(t *testing.T) {
	tests := []struct {
		name      string
		streams   int
		walls     []float64
		want      goal
		wantLabel string
	}{
		{"two streams, as fast", 2, []float64{3.8, 4.2, 4.4},
			goal{what: "`SNAPSHOT_DUMP_JOBS=2` snapshot wall ≤ 1.05x one stream", value: "1.00x (1.00–1.05)", met: true, known: true},
			"pgsnap snapshot, SNAPSHOT_DUMP_JOBS=2 (2 streams)"},
		{"two streams, slower", 2, []float64{4.2, 4.4, 4.8},
			goal{what: "`SNAPSHOT_DUMP_JOBS=2` snapshot wall ≤ 1.05x one stream", value: "1.10x (1.09–1.11)", met: false, known: true},
			"pgsnap snapshot, SNAPSHOT_DUMP_JOBS=2 (2 streams)"},
		{"one stream", 1, []float64{3.8, 4, 4.4},
			goal{what: "`SNAPSHOT_DUMP_JOBS=2` snapshot wall ≤ 1.05x one stream",
				value: "one stream: the manifests have no parts (a binary without SNAPSHOT_DUMP_JOBS, or a database with too few tables to split); it ran 1.00x (1.00–1.00) of one stream"},
			"pgsnap snapshot, SNAPSHOT_DUMP_JOBS=2 (one stream: the manifests have no parts (a binary without SNAPSHOT_DUMP_JOBS, or a database with too few tables to split))"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := benchSet()
			r := find(s.snapshots, keySnapshotJobs)
			r.samples = with(withWalls(r.samples, tt.walls...), func(x *sample) { x.streams = tt.streams })
			if diff := cmp.Diff(tt.want, jobsGoal(s), cmp.AllowUnexported(goal{})); diff != "" {
				t.Errorf("jobsGoal mismatch (-want +got):\n%s", diff)
			}
			if got := labelOf(*r); got != tt.wantLabel {
				t.Errorf("labelOf = %q, want %q", got, tt.wantLabel)
			}
		})
	}
	s := benchSet()
	find(s.snapshots, keySnapshotJobs).err = errors.New("boom")
	if g := jobsGoal(s); g.known || g.value != "not measured (a command failed)" {
		t.Errorf("jobsGoal of a failed row = %+v, want not measured", g)
	}
}

func TestHardGoals(t *testing.T) {
	s := setResult{name: "hard", snapshots: []result{
		{key: keySnapshot, label: "pgsnap snapshot", samples: withWalls(runs(5.1, 2, 40, 1), 5.1, 5.3, 4.9)},
		{key: keyPipeline, samples: runs(5, 1, 12, 1)},
		{key: keyDumpFc, samples: runs(20, 19, 12, 1)},
	}}
	got := goalsFor(s, "default", nil)
	want := []goal{
		{what: "snapshot wall ≤ 1.05x the C pipeline `pg_dump -Fc -Z0 | zstd -T0 -1`", value: "1.02x (0.98–1.06)", met: true, known: true},
		{what: "peak RSS ≤ 96 MiB at any size (every pgsnap command of the run)", value: "40.0 MiB in pgsnap snapshot (its runs 40.0–40.0 MiB)",
			met: true, known: true},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(goal{})); diff != "" {
		t.Errorf("goalsFor(hard) mismatch (-want +got):\n%s", diff)
	}
	s.snapshots = s.snapshots[1:]
	if g := goalsFor(s, "default", nil); g[0].known || g[1].known {
		t.Errorf("goalsFor(hard) without pgsnap = %+v, want both unknown", g)
	}
}

func TestRecords(t *testing.T) {
	started := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	rec, ok := recordOf(benchSet(), "default", started)
	if !ok {
		t.Fatal("recordOf(bench set) = false, want a record")
	}
	want := []record{{data: "bench", size: "default", date: "2026-11-25", dbBytes: 2_600_000_000, peakRSS: 41 << 20}}
	text := "# results\n\nsome text\n" + rec.comment() + "\n<!-- bench-record data=x size=y -->\n"
	if diff := cmp.Diff(want, parseRecords(text), cmp.AllowUnexported(record{})); diff != "" {
		t.Errorf("parseRecords(comment of record) mismatch (-want +got):\n%s", diff)
	}
	failed := benchSet()
	for _, rs := range [][]result{failed.snapshots, failed.restores} {
		for i := range rs {
			if strings.HasPrefix(rs[i].key, "pgsnap") {
				rs[i].err = errors.New("failed")
			}
		}
	}
	if _, ok := recordOf(failed, "default", started); ok {
		t.Errorf("recordOf(set without pgsnap results) = true, want false")
	}
}

func TestInsertSection(t *testing.T) {
	tests := []struct {
		name, existing, want string
	}{
		{"new file", "", resultsHeader + resultsMarker + "\n## new\n"},
		{"newest first", "# R\n\n" + resultsMarker + "\n## old\nbody\n", "# R\n\n" + resultsMarker + "\n## new\n\n## old\nbody\n"},
		{"no marker keeps the text as header", "# Mine\nnotes", "# Mine\nnotes\n\n" + resultsMarker + "\n## new\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, insertSection(tt.existing, "## new\n\n")); diff != "" {
				t.Errorf("insertSection(%q) mismatch (-want +got):\n%s", tt.existing, diff)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	long := errors.New(strings.Repeat("x", 400))
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"one line, pipes escaped", errors.New("a | b\n  c"), `a \| b c`},
		{"bounded", long, strings.Repeat("x", 300) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorText(tt.err); got != tt.want {
				t.Errorf("errorText(%q) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestFailureText(t *testing.T) {
	tests := []struct {
		name, stderr, want string
	}{
		{"pgsnap report with continuation", "time=x level=INFO msg=start\npgsnap: snapshot app: dump:\n  pg_dump: error: boom\n",
			"pgsnap: snapshot app: dump: pg_dump: error: boom"},
		{"last line", "pg_dump: warning\npg_dump: error: connection refused\n", "pg_dump: error: connection refused"},
		{"log line", `time=2026 level=ERROR msg="it broke"`, `msg="it broke"`},
		{"nothing", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failureText(tt.stderr); got != tt.want {
				t.Errorf("failureText(%q) = %q, want %q", tt.stderr, got, tt.want)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	environ := []string{
		"HOME=/root", "PGPASSWORD=secret", "PGHOST=elsewhere", "DATABASE_URL=postgres://u:pw@h/db",
		"SNAPSHOT_DIR=/snapshots", "SNAPSHOT_AGE_RECIPIENTS=age1xyz", "SNAPSHOT_COMPRESSION=zstd:3",
		"SNAPSHOT_DRILL_URL=postgres://u:pw@h/x", "SNAPSHOT_COMPRESSION_THREADS=2", "SNAPSHOT_DUMP_JOBS=8",
	}
	wantEnv := []string{"HOME=/root", "SNAPSHOT_COMPRESSION=zstd:3", "SNAPSHOT_DRILL_URL=postgres://u:pw@h/x", "SNAPSHOT_COMPRESSION_THREADS=2"}
	if diff := cmp.Diff(wantEnv, baseEnv(environ)); diff != "" {
		t.Errorf("baseEnv mismatch (-want +got):\n%s", diff)
	}
	wantPassed := []string{"`SNAPSHOT_COMPRESSION=zstd:3`", "`SNAPSHOT_COMPRESSION_THREADS=2`", "`SNAPSHOT_DRILL_URL=(set)`"}
	if diff := cmp.Diff(wantPassed, passedSettings(environ)); diff != "" {
		t.Errorf("passedSettings mismatch (-want +got):\n%s", diff)
	}
}

func TestCheckSnapshot(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		data     []string // files written as data objects, 5 bytes each
		age      bool
		want     snapshotInfo
		wantErr  string
	}{
		{"plain", `{"data":"app-1.dump.zst","size":5}`, []string{"app-1.dump.zst"}, false, snapshotInfo{size: 5, streams: 1}, ""},
		{"encrypted", `{"data":"app-1.dump.zst.age","size":5,"encrypted":true,"encryption":"age"}`, []string{"app-1.dump.zst.age"}, true,
			snapshotInfo{size: 5, streams: 1}, ""},
		{"age ignored", `{"data":"app-1.dump.zst","size":5}`, []string{"app-1.dump.zst"}, true, snapshotInfo{},
			`snapshot is not encrypted: this pgsnap ignored SNAPSHOT_AGE_RECIPIENTS (msg="unknown setting SNAPSHOT_AGE_RECIPIENTS is ignored")`},
		{"size differs", `{"data":"app-1.dump.zst","size":6}`, []string{"app-1.dump.zst"}, false, snapshotInfo{},
			"data app-1.dump.zst of app-1 is 5 bytes, manifest says 6"},
		{"foreign path", `{"data":"../x","size":5}`, []string{"app-1.dump.zst"}, false, snapshotInfo{}, `manifest app-1.json names data "../x"`},
		{"no data", `{"size":5}`, []string{"app-1.dump.zst"}, false, snapshotInfo{}, `manifest app-1.json names data ""`},
		{"parts, each its own object", `{"parts":[{"data":"app-1.0.dump.zst","size":5},{"data":"app-1.1.dump.zst","size":5}]}`,
			[]string{"app-1.0.dump.zst", "app-1.1.dump.zst"}, false, snapshotInfo{size: 10, streams: 2}, ""},
		{"parts, the first also top-level", `{"data":"app-1.0.dump.zst","size":5,"parts":[{"data":"app-1.0.dump.zst","size":5},{"data":"app-1.1.dump.zst","size":5}]}`,
			[]string{"app-1.0.dump.zst", "app-1.1.dump.zst"}, false, snapshotInfo{size: 10, streams: 2}, ""},
		{"parts in one object", `{"data":"app-1.dump.zst","size":5,"parts":[{"index":0},{"index":1},{"index":2}]}`,
			[]string{"app-1.dump.zst"}, false, snapshotInfo{size: 5, streams: 3}, ""},
		{"part missing", `{"parts":[{"data":"app-1.0.dump.zst","size":5},{"data":"app-1.1.dump.zst","size":5}]}`,
			[]string{"app-1.0.dump.zst"}, false, snapshotInfo{}, "data of app-1: stat DIR/app-1.1.dump.zst: no such file or directory"},
		{"part with a foreign path", `{"parts":[{"data":"../x","size":5}]}`, nil, false, snapshotInfo{}, `manifest app-1.json names data "../x"`},
	}
	stderr := `time=2026 level=WARN msg="unknown setting SNAPSHOT_AGE_RECIPIENTS is ignored"` + "\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "app-1.json"), []byte(tt.manifest), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, d := range tt.data {
				if err := os.WriteFile(filepath.Join(dir, d), []byte("12345"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := checkSnapshot(dir, "app-1", tt.age, stderr)
			gotErr := ""
			if err != nil {
				gotErr = strings.ReplaceAll(err.Error(), dir, "DIR")
			}
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("checkSnapshot(%s) = %+v, %q, want %+v, %q", tt.manifest, got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}

func TestReportMarkdown(t *testing.T) {
	r := report{
		started: time.Date(2026, 11, 25, 21, 53, 0, 0, time.UTC),
		took:    75 * time.Second,
		size:    "default",
		data:    "bench",
		pairs:   3,
		machine: machine{cores: 2, cpuModel: "CPU", memTotal: 24 << 30, kernel: "6.1", loadAvg: "0.1 0.2 0.3",
			goVersion: "go1.26", pgServer: "15.18", pgDump: "pg_dump 15.18", pgsnap: "pgsnap v1"},
		transport: "TCP",
		server:    "test",
		sets:      []setResult{benchSet()},
	}
	lines := strings.Split(strings.TrimSpace(r.markdown()), "\n")
	checks := []struct{ name, got, want string }{
		{"heading", lines[0], "## 2026-11-25 21:53 UTC · -size default · -data bench · 3 pairs"},
		{"machine", lines[2], "- Machine: 2 cores (CPU), 24.0 GiB RAM, Linux 6.1, load average at start 0.1 0.2 0.3."},
		{"record", lines[len(lines)-1], "<!-- bench-record data=bench size=default date=2026-11-25 db_bytes=2600000000 peak_rss_bytes=42991616 -->"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("report.markdown() %s line = %q, want %q", c.name, c.got, c.want)
		}
	}
}
