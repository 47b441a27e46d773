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
		{wall: 2 * time.Second, cpu: time.Second, maxRSS: 30 << 20, size: 100},
		{wall: 1 * time.Second, cpu: 3 * time.Second, maxRSS: 40 << 20, size: 100},
		{wall: 3 * time.Second, cpu: 2 * time.Second, maxRSS: 35 << 20, size: 100},
	}
	got := statsOf(samples)
	want := stats{
		wall:   summary{n: 3, median: 2, min: 1, max: 3},
		cpu:    summary{n: 3, median: 2, min: 1, max: 3},
		size:   summary{n: 3, median: 100, min: 100, max: 100},
		maxRSS: 40 << 20,
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
