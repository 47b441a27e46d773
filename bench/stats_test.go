package main

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		in   []float64
		want summary
	}{
		{"empty", nil, summary{median: nan, min: nan, max: nan}},
		{"one", []float64{2}, summary{n: 1, median: 2, min: 2, max: 2}},
		{"odd unsorted", []float64{3, 1, 2}, summary{n: 3, median: 2, min: 1, max: 3}},
		{"even takes the mean of the middle two", []float64{4, 1, 3, 2}, summary{n: 4, median: 2.5, min: 1, max: 4}},
		{"outlier does not move the median", []float64{1, 1.1, 9}, summary{n: 3, median: 1.1, min: 1, max: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarize(tt.in)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(summary{}), cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("summarize(%v) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestSummarizeKeepsInput(t *testing.T) {
	in := []float64{3, 1, 2}
	summarize(in)
	if diff := cmp.Diff([]float64{3, 1, 2}, in); diff != "" {
		t.Errorf("summarize changed its input (-want +got):\n%s", diff)
	}
}

func TestStatsOf(t *testing.T) {
	samples := []sample{
		{wall: 2 * time.Second, cpu: time.Second, serverCPU: 4 * time.Second, maxRSS: 30 << 20, size: 100},
		{wall: 1 * time.Second, cpu: 3 * time.Second, serverCPU: -1, maxRSS: 40 << 20, size: 100},
		{wall: 3 * time.Second, cpu: 2 * time.Second, serverCPU: 0, maxRSS: 35 << 20, size: 100},
	}
	got := statsOf(samples)
	want := stats{
		wall:      summary{n: 3, median: 2, min: 1, max: 3},
		cpu:       summary{n: 3, median: 2, min: 1, max: 3},
		size:      summary{n: 3, median: 100, min: 100, max: 100},
		serverCPU: summary{n: 2, median: 2, min: 0, max: 4}, // the unknown one left out
		maxRSS:    40 << 20,
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(stats{}, summary{})); diff != "" {
		t.Errorf("statsOf mismatch (-want +got):\n%s", diff)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"ratio", formatRatio(0.756), "0.76x"},
		{"ratio above ten", formatRatio(12.34), "12.3x"},
		{"ratio unknown", formatRatio(ratio(1, 0)), "n/a"},
		{"ratio of unknown", formatRatio(ratio(math.NaN(), 1)), "n/a"},
		{"seconds", formatSeconds(1.234), "1.23 s"},
		{"tens of seconds", formatSeconds(12.34), "12.3 s"},
		{"minutes", formatSeconds(123.4), "123 s"},
		{"range", formatRange(summary{n: 3, median: 1.23, min: 1.2, max: 11.5}), "1.23 s (1.20–11.5)"},
		{"range empty", formatRange(summary{}), "n/a"},
		{"bytes", formatBytes(512), "512 B"},
		{"kilobytes", formatBytes(1500), "1.5 kB"},
		{"megabytes", formatBytes(16_800_000), "16.8 MB"},
		{"gigabytes", formatBytes(2_610_000_000), "2.61 GB"},
		{"bytes unknown", formatBytes(math.NaN()), "n/a"},
		{"MiB", formatMiB(35 << 20), "35.0 MiB"},
		{"MiB unknown", formatMiB(0), "n/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
			}
		})
	}
}

func TestPaired(t *testing.T) {
	at := func(round int, wall float64) sample { return sample{round: round, wall: seconds(wall)} }
	tests := []struct {
		name string
		a, b []sample
		want string
	}{
		{"ratios of the same round, not of medians", []sample{at(1, 2), at(2, 6), at(3, 3)}, []sample{at(1, 1), at(2, 6), at(3, 2)}, "1.50x (1.00–2.00)"},
		{"rounds only one side ran are left out", []sample{at(1, 2), at(3, 9)}, []sample{at(1, 4), at(2, 1)}, "0.50x (0.50–0.50)"},
		{"no common round", []sample{at(1, 2)}, []sample{at(2, 2)}, "n/a"},
		{"zero base", []sample{at(1, 2)}, []sample{at(1, 0)}, "n/a"},
		{"no base", []sample{at(1, 2)}, nil, "n/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatRatioRange(paired(tt.a, tt.b, wallOf)); got != tt.want {
				t.Errorf("paired = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOver(t *testing.T) {
	got := over([]sample{{size: 1}, {size: 3}, {size: -1}}, func(s sample) float64 {
		if s.size < 0 {
			return math.NaN()
		}
		return float64(s.size)
	})
	if want := (summary{n: 2, median: 2, min: 1, max: 3}); got != want {
		t.Errorf("over = %+v, want %+v (NaN left out)", got, want)
	}
}

func TestFormatRanges(t *testing.T) {
	tests := []struct{ got, want string }{
		{formatRatioRange(summary{n: 3, median: 0.944, min: 0.851, max: 12.3}), "0.94x (0.85–12.3)"},
		{formatRatioRange(summary{}), "n/a"},
		{formatNumberRange(summary{n: 2, median: 164.4, min: 9.876, max: 1234}), "164 (9.88–1234)"},
		{formatNumberRange(summary{}), "n/a"},
		{formatNumber(12.34), "12.3"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
