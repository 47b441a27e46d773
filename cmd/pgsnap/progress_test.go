package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The progress bar's rate is what went through in the last seconds: nothing before a second
// has passed (a first buffer is not gigabytes per second), the steady rate while it flows, and
// a falling one when it stalls.
func TestProgressShowsRealRates(t *testing.T) {
	var out bytes.Buffer
	b := &barProgress{w: &out, width: 200}
	t0 := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	b.what, b.total, b.start, b.samples = "read app-20261124T030000Z", 100<<20, t0, []sample{{t0, 0}}

	const mb = 1_000_000
	b.Add(4 * mb) // a first buffer, at once
	b.draw(t0.Add(10 * time.Millisecond))
	if line := b.line(t0.Add(10 * time.Millisecond)); strings.Contains(line, "/s") {
		t.Errorf("after 10ms the bar shows a rate: %q", line)
	}
	at := t0.Add(10 * time.Millisecond)
	for at.Before(t0.Add(6 * time.Second)) { // then 10 MB/s, a tick every 250ms
		at = at.Add(barTick)
		b.Add(10 * mb / 4)
		b.draw(at)
	}
	if line := b.line(at); !strings.Contains(line, " 10.0 MB/s") || !strings.Contains(line, "s left") {
		t.Errorf("at a steady 10 MB/s the bar says %q", line)
	}
	for range 8 { // two seconds without a byte
		at = at.Add(barTick)
		b.draw(at)
	}
	line := b.line(at)
	if !strings.Contains(line, " 3.3 MB/s") {
		t.Errorf("two seconds into a stall (3s window) the bar says %q, want 3.3 MB/s", line)
	}
	if strings.Contains(line, "GB/s") || len(line) > b.width {
		t.Errorf("line %q", line)
	}
	t.Logf("final line: %s", line)
}

func TestProgressFitsTheTerminal(t *testing.T) {
	var out bytes.Buffer
	b := &barProgress{w: &out, width: 60}
	t0 := time.Now()
	b.what, b.total, b.start, b.samples = "read app-20261124T030000Z", 3<<30, t0, []sample{{t0, 0}}
	b.Add(1 << 30)
	b.draw(t0.Add(2 * time.Second))
	last := out.String()[strings.LastIndexByte(out.String(), '\r')+1:]
	if len([]rune(last)) >= b.width {
		t.Errorf("line of %d columns on a %d-column terminal: %q", len([]rune(last)), b.width, last)
	}
	if !strings.Contains(last, "1.00 GiB/3.00 GiB") {
		t.Errorf("line %q lacks the sizes in the form list and status use", last)
	}
}
