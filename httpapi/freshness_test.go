package httpapi

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFreshness(t *testing.T) {
	t.Parallel()
	daily := Target{Name: "app", Interval: 24 * time.Hour, StaleAfter: time.Hour}
	with := func(f func(*Target)) Target {
		tg := daily
		f(&tg)
		return tg
	}
	tests := []struct {
		name   string
		target Target
		want   Verdict
	}{
		{
			name:   "no snapshot yet",
			target: daily,
			want:   Verdict{State: StateNone, Reason: "no snapshot yet", Limit: 25 * time.Hour},
		},
		{
			name: "no snapshot, failing",
			target: with(func(tg *Target) {
				tg.LastFailure, tg.LastError = t0.Add(-5*time.Minute), "dump: connection\nrefused"
			}),
			want: Verdict{State: StateNone, Limit: 25 * time.Hour,
				Reason: "no snapshot yet; last attempt failed 5m ago: dump: connection refused"},
		},
		{
			name:   "fresh",
			target: with(func(tg *Target) { tg.LastSuccess = t0.Add(-9 * time.Hour) }),
			want: Verdict{State: StateOK, Fresh: true, Newest: t0.Add(-9 * time.Hour), Age: 9 * time.Hour,
				Limit: 25 * time.Hour, Reason: "newest snapshot 9h ago, limit 25h"},
		},
		{
			name: "fresh from the listing after a restart",
			target: with(func(tg *Target) {
				tg.Snapshots = []Snapshot{{Name: "a", Time: t0.Add(-90 * time.Minute)}}
			}),
			want: Verdict{State: StateOK, Fresh: true, Newest: t0.Add(-90 * time.Minute), Age: 90 * time.Minute,
				Limit: 25 * time.Hour, Reason: "newest snapshot 1h30m ago, limit 25h"},
		},
		{
			name: "older failure does not count",
			target: with(func(tg *Target) {
				tg.LastSuccess, tg.LastFailure, tg.LastError = t0.Add(-time.Hour), t0.Add(-2*time.Hour), "x"
			}),
			want: Verdict{State: StateOK, Fresh: true, Newest: t0.Add(-time.Hour), Age: time.Hour,
				Limit: 25 * time.Hour, Reason: "newest snapshot 1h ago, limit 25h"},
		},
		{
			name:   "late exactly at the limit",
			target: with(func(tg *Target) { tg.LastSuccess = t0.Add(-25 * time.Hour) }),
			want: Verdict{State: StateLate, Newest: t0.Add(-25 * time.Hour), Age: 25 * time.Hour,
				Limit: 25 * time.Hour, Reason: "newest snapshot 25h ago, limit 25h"},
		},
		{
			name: "failing but still fresh",
			target: with(func(tg *Target) {
				tg.LastSuccess, tg.LastFailure, tg.LastError = t0.Add(-24*time.Hour), t0.Add(-time.Minute), "store: disk full"
			}),
			want: Verdict{State: StateFailing, Fresh: true, Newest: t0.Add(-24 * time.Hour), Age: 24 * time.Hour,
				Limit: 25 * time.Hour, Reason: "last attempt failed 1m ago: store: disk full; newest snapshot 24h ago, limit 25h"},
		},
		{
			name: "failing and late",
			target: with(func(tg *Target) {
				tg.LastSuccess, tg.LastFailure, tg.LastError = t0.Add(-50*time.Hour), t0.Add(-time.Minute), "lock: held"
			}),
			want: Verdict{State: StateFailing, Newest: t0.Add(-50 * time.Hour), Age: 50 * time.Hour,
				Limit: 25 * time.Hour, Reason: "newest snapshot 2d2h ago, limit 25h; last attempt failed 1m ago: lock: held"},
		},
		{
			name:   "snapshot from the future (clock skew) is fresh",
			target: with(func(tg *Target) { tg.LastSuccess = t0.Add(time.Minute) }),
			want: Verdict{State: StateOK, Fresh: true, Newest: t0.Add(time.Minute), Limit: 25 * time.Hour,
				Reason: "newest snapshot 0s ago, limit 25h"},
		},
		{
			name:   "zero interval is never fresh",
			target: Target{LastSuccess: t0.Add(-time.Second)},
			want: Verdict{State: StateLate, Newest: t0.Add(-time.Second), Age: time.Second,
				Reason: "newest snapshot 1s ago, limit 0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Freshness(tt.target, t0)); diff != "" {
				t.Errorf("Freshness() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFreshnessLongErrorIsCut(t *testing.T) {
	t.Parallel()
	tg := Target{Interval: time.Hour, LastFailure: t0, LastError: strings.Repeat("x", 5000)}
	v := Freshness(tg, t0)
	if n := len([]rune(v.Reason)); n > 400 {
		t.Errorf("len(Freshness().Reason) = %d runes, want at most 400", n)
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	st := fixture()
	st.Now = t0
	late := st.Targets[0]
	late.Name, late.Alive, late.LastSuccess, late.Snapshots = "late", false, t0.Add(-26*time.Hour), nil
	st.Targets = append(st.Targets, late)
	r := Summarize(st)
	got := []any{r.Ready, r.Healthy, r.Targets[0].Verdict.State, r.Targets[1].Verdict.State}
	want := []any{false, false, StateOK, StateLate}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Summarize() [ready healthy states] mismatch (-want +got):\n%s", diff)
	}
	if r := Summarize(Status{}); !r.Ready || !r.Healthy || r.Now.IsZero() {
		t.Errorf("Summarize(Status{}) = ready %v healthy %v now %v, want true true non-zero", r.Ready, r.Healthy, r.Now)
	}
}

func TestHumanFormats(t *testing.T) {
	t.Parallel()
	durations := map[time.Duration]string{
		0: "0s", 250 * time.Millisecond: "250ms", 45 * time.Second: "45s", 90 * time.Second: "1m30s",
		5 * time.Minute: "5m", 26 * time.Hour: "26h", 25*time.Hour + 30*time.Minute: "25h30m",
		50 * time.Hour: "2d2h", 72 * time.Hour: "3d",
	}
	for d, want := range durations {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	sizes := map[int64]string{
		0: "0 B", 512: "512 B", 1536: "1.50 KiB", 1610612736: "1.50 GiB", 25125558681: "23.4 GiB",
		300 << 30: "300 GiB",
	}
	for n, want := range sizes {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
