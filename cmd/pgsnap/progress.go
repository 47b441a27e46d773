package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/httpapi"
)

const (
	// barTick is how often the bar is redrawn: often enough to look alive, seldom enough to
	// cost nothing.
	barTick = 250 * time.Millisecond
	// rateWindow is what the rate is measured over: the bytes of the last few seconds, so a
	// stall shows as a falling rate instead of the average since the start.
	rateWindow = 3 * time.Second
	// rateWarmUp is how long a rate is measured before it is shown: over a few milliseconds a
	// buffer filling shows as gigabytes per second.
	rateWarmUp = time.Second
)

// barProgress draws a progress bar on standard error for long operations: bytes done, of how
// many when known, the rate over the last seconds and, with a total, the time left.
type barProgress struct {
	w     io.Writer
	width int // terminal columns

	mu      sync.Mutex
	what    string
	total   int64 // -1 when unknown
	done    int64
	start   time.Time
	samples []sample // (time, done) at each tick within rateWindow
	drawn   int      // length of the line on screen

	stop chan struct{}
	wg   sync.WaitGroup
}

type sample struct {
	at   time.Time
	done int64
}

// newProgress returns a progress bar on stderr when it is a terminal and --quiet is not given;
// otherwise nil (no progress shown, logs alone).
func newProgress(stderr io.Writer, quiet bool) pgsnap.Progress {
	f, ok := stderr.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		width = 80
	}
	return &barProgress{w: stderr, width: width}
}

// Begin starts a bar and the ticker that redraws it until End.
func (b *barProgress) Begin(what string, total int64) {
	b.mu.Lock()
	now := time.Now()
	b.what, b.total, b.done, b.start = what, total, 0, now
	b.samples = []sample{{now, 0}}
	b.mu.Unlock()
	b.stop = make(chan struct{})
	b.wg.Go(func() {
		t := time.NewTicker(barTick)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case now := <-t.C:
				b.mu.Lock()
				b.draw(now)
				b.mu.Unlock()
			}
		}
	})
}

func (b *barProgress) Add(n int64) {
	b.mu.Lock()
	b.done += n
	b.mu.Unlock()
}

// End stops the ticker and clears the bar: what was done is in the log.
func (b *barProgress) End() {
	if b.stop == nil {
		return
	}
	close(b.stop)
	b.wg.Wait()
	b.stop = nil
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn > 0 {
		fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", b.drawn))
		b.drawn = 0
	}
}

// draw records a sample at now and writes the line over the previous one.
func (b *barProgress) draw(now time.Time) {
	b.samples = append(b.samples, sample{now, b.done})
	for len(b.samples) > 2 && now.Sub(b.samples[1].at) >= rateWindow {
		b.samples = b.samples[1:] // keep one sample at or before the window's start
	}
	line := b.line(now)
	if r := []rune(line); len(r) > b.width-1 {
		line = string(r[:b.width-1])
	}
	pad := ""
	if n := len([]rune(line)); n < b.drawn {
		pad = strings.Repeat(" ", b.drawn-n)
	}
	fmt.Fprintf(b.w, "\r%s%s", line, pad)
	b.drawn = len([]rune(line))
}

// line is the bar's text at now, at most width-1 columns: "read app-… 42% [=====     ] 1.20
// GiB/2.86 GiB 48.1 MB/s 35s left". The bar takes what room the figures leave.
func (b *barProgress) line(now time.Time) string {
	sizes := httpapi.HumanBytes(b.done)
	if b.total > 0 {
		sizes += "/" + httpapi.HumanBytes(b.total)
	}
	speed := ""
	if rate, ok := b.rate(now); ok {
		speed = " " + httpapi.HumanRate(rate)
		if b.total > 0 && rate > 0 && b.done < b.total {
			left := time.Duration(float64(b.total-b.done) / rate * float64(time.Second))
			speed += " " + max(left.Round(time.Second), time.Second).String() + " left"
		}
	}
	if b.total <= 0 {
		return b.what + " " + sizes + speed
	}
	pct := min(float64(b.done)/float64(b.total), 1)
	head := fmt.Sprintf("%s %3.0f%%", b.what, pct*100)
	// The bar keeps its width when the rate appears: room for " 999.9 MB/s 59m59s left".
	const speedRoom = 24
	cells := min(20, b.width-1-len([]rune(head))-len(sizes)-speedRoom-4)
	if cells < 5 {
		return head + " " + sizes + speed
	}
	full := int(pct * float64(cells))
	return fmt.Sprintf("%s [%s%s] %s%s", head, strings.Repeat("=", full), strings.Repeat(" ", cells-full), sizes, speed)
}

// rate is the bytes per second over the samples in the window, once the bar has run for
// rateWarmUp: a rate measured over less time than that says nothing.
func (b *barProgress) rate(now time.Time) (float64, bool) {
	first := b.samples[0]
	span := now.Sub(first.at)
	if now.Sub(b.start) < rateWarmUp || span <= 0 {
		return 0, false
	}
	return float64(b.done-first.done) / span.Seconds(), true
}
