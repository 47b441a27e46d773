package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// runs makes three samples with the given wall and CPU seconds, RSS in MiB and size in bytes.
func runs(wall, cpu float64, rssMiB, size int64) []sample {
	s := sample{
		wall:   time.Duration(wall * float64(time.Second)),
		cpu:    time.Duration(cpu * float64(time.Second)),
		maxRSS: rssMiB << 20,
		size:   size,
	}
	return []sample{s, s, s}
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
			{key: keySnapshot, label: "pgsnap snapshot", samples: runs(4, 3, 40, 360_000_000)},
			{key: keyDumpZ0, label: "pg_dump -Fc -Z0 -f FILE", samples: runs(5, 1, 12, 2_000_000_000)},
			{key: keyDumpFc, label: "pg_dump -Fc -f FILE", samples: runs(20, 19, 12, 400_000_000)},
			{key: keySnapshotAge, label: "pgsnap snapshot (age)", err: errors.New("snapshot is not encrypted | ignored")},
		},
		restores: []result{
			{key: keyRestore, label: "pgsnap restore --jobs 2", samples: runs(10.5, 4, 30, 360_000_000)},
			{key: keyPgRestore, label: "pg_restore -j2 (pg_dump -Fc file)", samples: runs(10, 2, 25, 400_000_000)},
		},
	}
}

func TestSetMarkdown(t *testing.T) {
	want := `### Data set bench: 2.60 GB database

test data; built in 1m30s. Its ` + "`pg_dump -Fc -Z0`" + ` archive is 2.00 GB; ` + "`zstd -1`" + ` makes that 400.0 MB (5.00x smaller).

| command | wall median (min–max) | CPU median | peak RSS max | output size | vs pg_dump -Fc -Z0 (wall / CPU / size) | vs pg_dump -Fc (wall / CPU / size) |
|---|---|---|---|---|---|---|
| pgsnap snapshot | 4.00 s (4.00–4.00) | 3.00 s | 40.0 MiB | 360.0 MB | 0.80x / 3.00x / 0.18x | 0.20x / 0.16x / 0.90x |
| pg_dump -Fc -Z0 -f FILE | 5.00 s (5.00–5.00) | 1.00 s | 12.0 MiB | 2.00 GB | 1.00x / 1.00x / 1.00x | 0.25x / 0.05x / 5.00x |
| pg_dump -Fc -f FILE | 20.0 s (20.0–20.0) | 19.0 s | 12.0 MiB | 400.0 MB | 4.00x / 19.0x / 0.20x | 1.00x / 1.00x / 1.00x |
| pgsnap snapshot (age) | error: snapshot is not encrypted \| ignored | | | | | |

| restore | wall median (min–max) | CPU median | peak RSS max | input size | vs pg_restore -j2 (wall / CPU) |
|---|---|---|---|---|---|
| pgsnap restore --jobs 2 | 10.5 s (10.5–10.5) | 4.00 s | 30.0 MiB | 360.0 MB | 1.05x / 2.00x |
| pg_restore -j2 (pg_dump -Fc file) | 10.0 s (10.0–10.0) | 2.00 s | 25.0 MiB | 400.0 MB | 1.00x / 1.00x |
`
	if diff := cmp.Diff(want, benchSet().markdown()); diff != "" {
		t.Errorf("setResult.markdown() mismatch (-want +got):\n%s", diff)
	}
}

func TestGoals(t *testing.T) {
	prior := []record{
		{data: "hard", size: "medium", date: "2026-01-02", dbBytes: 700_000_000, peakRSS: 10 << 20},
		{data: "bench", size: "medium", date: "2026-01-01", dbBytes: 700_000_000, peakRSS: 36 << 20},
		{data: "bench", size: "medium", date: "2025-12-01", dbBytes: 700_000_000, peakRSS: 20 << 20},
	}
	want := `Goals:

- **met**: snapshot wall ≤ 0.80x ` + "`pg_dump -Fc -Z0 -f FILE`" + ` (encryption off): 0.80x
- **n/a**: snapshot wall ≤ 0.85x ` + "`pg_dump -Fc -Z0 -f FILE`" + ` with age on: not measured (a command failed)
- **NOT met**: output size ≤ 0.85x ` + "`pg_dump -Fc`" + `: 0.90x
- **met**: snapshot ≥ 3.5x faster than ` + "`pg_dump -Fc`" + `: 5.00x faster
- **met**: client CPU (whole tree) ≤ 0.30x ` + "`pg_dump -Fc`" + `: 0.16x
- **met**: peak RSS ≤ 96 MiB (pgsnap snapshot, with and without age): 40.0 MiB
- **met**: peak RSS flat between a ~0.7 GB (` + "`-size medium`" + `) and a ~2.6 GB (` + "`-size default`" + `) database (≤ 1.25x): 700.0 MB: 36.0 MiB, 2.60 GB: 40.0 MiB (1.11x; the medium run of 2026-01-01)
- **met**: restore wall ≤ 1.10x ` + "`pg_restore -j2`" + ` of the ` + "`pg_dump -Fc`" + ` file: 1.05x
`
	if diff := cmp.Diff(want, renderGoals(goalsFor(benchSet(), "default", prior), "default")); diff != "" {
		t.Errorf("goals mismatch (-want +got):\n%s", diff)
	}
}

func TestGoalsAtOtherSizes(t *testing.T) {
	tests := []struct {
		name, size string
		prior      []record
		wantFlat   string
	}{
		{"small cannot judge flatness", "small", nil, "needs `-size medium` and `-size default` runs"},
		{"medium without a default run", "medium", nil, "no `-size default` run of data set bench in RESULTS.md yet: run it too"},
		{"medium against a grown default", "medium",
			[]record{{data: "bench", size: "default", date: "2026-01-01", dbBytes: 2_600_000_000, peakRSS: 80 << 20}},
			"700.0 MB: 40.0 MiB, 2.60 GB: 80.0 MiB (2.00x; the default run of 2026-01-01)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := benchSet()
			s.dbBytes = 700_000_000
			goals := goalsFor(s, tt.size, tt.prior)
			flat := goals[6]
			if flat.value != tt.wantFlat {
				t.Errorf("flatness value = %q, want %q", flat.value, tt.wantFlat)
			}
			if flat.met {
				t.Errorf("flatness met = true, want false")
			}
			if got := renderGoals(goals, tt.size); !strings.HasPrefix(got, "Goals (set for `-size default`") {
				t.Errorf("renderGoals at %s starts %q, want the indicative-only note", tt.size, got[:40])
			}
		})
	}
}

func TestHardGoals(t *testing.T) {
	s := setResult{name: "hard", snapshots: []result{
		{key: keySnapshot, samples: runs(5.1, 2, 40, 1)},
		{key: keyDumpZ0, samples: runs(5, 1, 12, 1)},
		{key: keyDumpFc, samples: runs(20, 19, 12, 1)},
	}}
	got := goalsFor(s, "default", nil)
	want := []goal{
		{what: "snapshot wall ≤ 1.05x `pg_dump -Fc -Z0 -f FILE`", value: "1.02x", met: true, known: true},
		{what: "snapshot ≥ 4x faster than `pg_dump -Fc`", value: "3.92x faster", met: false, known: true},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(goal{})); diff != "" {
		t.Errorf("goalsFor(hard) mismatch (-want +got):\n%s", diff)
	}
}

func TestRecords(t *testing.T) {
	started := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	rec, ok := recordOf(benchSet(), "default", started)
	if !ok {
		t.Fatal("recordOf(bench set) = false, want a record")
	}
	want := []record{{data: "bench", size: "default", date: "2026-11-25", dbBytes: 2_600_000_000, peakRSS: 40 << 20}}
	text := "# results\n\nsome text\n" + rec.comment() + "\n<!-- bench-record data=x size=y -->\n"
	if diff := cmp.Diff(want, parseRecords(text), cmp.AllowUnexported(record{})); diff != "" {
		t.Errorf("parseRecords(comment of record) mismatch (-want +got):\n%s", diff)
	}
	failed := benchSet()
	failed.snapshots = failed.snapshots[1:]
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
		"SNAPSHOT_DRILL_URL=postgres://u:pw@h/x", "SNAPSHOT_COMPRESSION_THREADS=2",
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
		data     string // file written as the data object
		age      bool
		want     int64
		wantErr  string
	}{
		{"plain", `{"data":"app-1.dump.zst","size":5}`, "app-1.dump.zst", false, 5, ""},
		{"encrypted", `{"data":"app-1.dump.zst.age","size":5,"encrypted":true,"encryption":"age"}`, "app-1.dump.zst.age", true, 5, ""},
		{"age ignored", `{"data":"app-1.dump.zst","size":5}`, "app-1.dump.zst", true, 0,
			`snapshot is not encrypted: this pgsnap ignored SNAPSHOT_AGE_RECIPIENTS (msg="unknown setting SNAPSHOT_AGE_RECIPIENTS is ignored")`},
		{"size differs", `{"data":"app-1.dump.zst","size":6}`, "app-1.dump.zst", false, 0, "data of app-1 is 5 bytes, manifest says 6"},
		{"foreign path", `{"data":"../x","size":5}`, "app-1.dump.zst", false, 0, `manifest app-1.json names data "../x"`},
	}
	stderr := `time=2026 level=WARN msg="unknown setting SNAPSHOT_AGE_RECIPIENTS is ignored"` + "\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "app-1.json"), []byte(tt.manifest), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, tt.data), []byte("12345"), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := checkSnapshot(dir, "app-1", tt.age, stderr)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("checkSnapshot(%s) = %d, %q, want %d, %q", tt.manifest, got, gotErr, tt.want, tt.wantErr)
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
		{"record", lines[len(lines)-1], "<!-- bench-record data=bench size=default date=2026-11-25 db_bytes=2600000000 peak_rss_bytes=41943040 -->"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("report.markdown() %s line = %q, want %q", c.name, c.got, c.want)
		}
	}
}
