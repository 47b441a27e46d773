package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/pgsnap/pgsnap"
)

// barProgress draws a progress bar (bytes and rate) on standard error for long operations.
type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

// newProgress returns a progress bar on stderr when it is a terminal and --quiet is not given;
// otherwise nil (no progress shown, logs alone).
func newProgress(stderr io.Writer, quiet bool) pgsnap.Progress {
	f, ok := stderr.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &barProgress{w: stderr}
}

func (b *barProgress) Begin(what string, total int64) {
	b.bar = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(total > 0),
	)
}

func (b *barProgress) Add(n int64) {
	if b.bar != nil {
		b.bar.Add64(n)
	}
}

func (b *barProgress) End() {
	if b.bar != nil {
		b.bar.Finish()
		b.bar = nil
	}
}
