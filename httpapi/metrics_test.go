package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// metricsFixture returns the fixture with a second target that has never succeeded, so both
// the full and the sparse set of series are covered.
func metricsFixture() Status {
	st := fixture()
	st.Targets = append(st.Targets, Target{
		Name: "billing", Interval: time.Hour, StaleAfter: 10 * time.Minute, Alive: true,
		LastFailure: t0.Add(-time.Minute), Attempts: 2, Failures: map[string]int64{"lock": 1, "timeout": 1},
	})
	return st
}

func registry(t *testing.T, src *statusSource) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Status: src.read, Registerer: reg, Gatherer: reg, Clock: func() time.Time { return t0 }}); err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return reg
}

func TestMetricsGolden(t *testing.T) {
	t.Parallel()
	reg := registry(t, &statusSource{st: metricsFixture()})
	path := filepath.Join("testdata", "metrics.txt")
	if *update {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("Gather() error = %v", err)
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.Open(path)
	if err != nil {
		t.Fatalf("open golden file (run with -update to create it): %v", err)
	}
	defer want.Close()
	if err := testutil.GatherAndCompare(reg, want); err != nil {
		t.Errorf("GatherAndCompare(%s) mismatch (-got +want; -update rewrites):\n%v", path, err)
	}
}

func TestMetricsLint(t *testing.T) {
	t.Parallel()
	reg := registry(t, &statusSource{st: metricsFixture()})
	// The daemon adds these; they must coexist with ours.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint() error = %v", err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "pgsnap_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
	want := []string{
		"pgsnap_up", "pgsnap_build_info", "pgsnap_last_success_timestamp_seconds",
		"pgsnap_last_failure_timestamp_seconds", "pgsnap_last_duration_seconds", "pgsnap_last_size_bytes",
		"pgsnap_attempts_total", "pgsnap_failures_total", "pgsnap_retries_total", "pgsnap_snapshots",
		"pgsnap_stored_bytes", "pgsnap_destination_failures_total", "pgsnap_incomplete_snapshots",
		"pgsnap_drill_success", "pgsnap_drill_timestamp_seconds", "pgsnap_drill_duration_seconds",
		"pgsnap_drills_total", "pgsnap_next_slot_timestamp_seconds", "pgsnap_dump_bytes_per_second",
		"pgsnap_fresh", "pgsnap_freshness_limit_seconds", "pgsnap_scheduler_running",
		"go_goroutines", "process_start_time_seconds",
	}
	for _, name := range want {
		n, err := testutil.GatherAndCount(reg, name)
		if err != nil || n == 0 {
			t.Errorf("GatherAndCount(%s) = %d, %v; want at least one series", name, n, err)
		}
	}
}

func TestMetricsFollowStatus(t *testing.T) {
	t.Parallel()
	src := &statusSource{st: fixture()}
	reg := registry(t, src)
	fresh := `# HELP pgsnap_fresh 1 when the newest snapshot is younger than the freshness limit (as /readyz), else 0.
# TYPE pgsnap_fresh gauge
pgsnap_fresh{target="app"} %s
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(strings.Replace(fresh, "%s", "1", 1)), "pgsnap_fresh"); err != nil {
		t.Errorf("fresh status: %v", err)
	}
	st := fixture()
	st.Targets[0].LastSuccess, st.Targets[0].Snapshots = t0.Add(-26*time.Hour), nil
	src.set(st)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(strings.Replace(fresh, "%s", "0", 1)), "pgsnap_fresh"); err != nil {
		t.Errorf("late status: %v", err)
	}

	src.fail(errors.New("status unavailable"))
	down := "# HELP pgsnap_up 1 when the status could be read for this scrape, else 0 (and no other pgsnap series).\n" +
		"# TYPE pgsnap_up gauge\npgsnap_up 0\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(down), "pgsnap_up", "pgsnap_fresh"); err != nil {
		t.Errorf("failing status: %v", err)
	}
}

func TestMetricsDuplicatesSkipped(t *testing.T) {
	t.Parallel()
	st := fixture()
	st.Targets[0].Destinations = append(st.Targets[0].Destinations, st.Targets[0].Destinations[0])
	st.Targets = append(st.Targets, st.Targets[0])
	reg := registry(t, &statusSource{st: st})
	for name, want := range map[string]int{"pgsnap_fresh": 1, "pgsnap_snapshots": 2} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != want {
			t.Errorf("GatherAndCount(%s) with duplicates = %d, %v; want %d, nil", name, n, err, want)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	srv, _, _ := serve(t, Options{Registerer: reg, Gatherer: reg})
	r := get(t, srv.URL+"/metrics", nil)
	if r.code != http.StatusOK || !strings.Contains(r.body, `pgsnap_fresh{target="app"} 1`) {
		t.Errorf("GET /metrics = %d, body without pgsnap_fresh 1:\n%s", r.code, r.body)
	}
}
