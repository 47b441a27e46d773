package httpapi

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium returns the browser to drive: $PGSNAP_CHROMIUM or Debian's chromium package. A
// missing browser skips the test, except in CI where it must be installed.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("PGSNAP_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found at %s (apt-get install chromium, or set PGSNAP_CHROMIUM): %v", path, err)
		}
		t.Skipf("chromium not found at %s (apt-get install chromium, or set PGSNAP_CHROMIUM): %v", path, err)
	}
	return path
}

// browserFixture has one healthy target and one whose newest attempt failed, so the page
// shows two badges.
func browserFixture() Status {
	st := fixture()
	st.Targets = append(st.Targets, Target{
		Name: "billing", Schedule: "hourly at :15", NextSlot: t0.Add(15 * time.Minute),
		Interval: time.Hour, StaleAfter: 30 * time.Minute, Alive: true,
		LastSuccess: t0.Add(-45 * time.Minute), LastFailure: t0.Add(-2 * time.Minute),
		LastError:    "store: write billing-20261124T111500Z.dump.zst: no space left on device",
		LastDuration: 12 * time.Second, LastSize: 48 << 20, DumpBytesPerSecond: 41e6,
		Attempts: 14, Retries: 2, Failures: map[string]int64{"store": 2},
		Snapshots: []Snapshot{{
			Name: "billing-20261124T101500Z", Time: t0.Add(-45 * time.Minute), Size: 48 << 20,
			Duration: 12 * time.Second, Checks: []string{"sha256"},
		}},
		Destinations: []Destination{{Name: "primary", Snapshots: 24, Bytes: 24 * 48 << 20}},
	})
	return st
}

func TestStatusPageInBrowser(t *testing.T) {
	exe := chromium(t)
	srv, src, clk := serve(t, Options{Auth: Auth{User: "ops", Password: "pw"}})
	src.set(browserFixture())

	// A bound, not a timing assertion: a wedged browser fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	err := chromedp.Listen(bctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				report("console.%s: %v", e.Type, e.Args)
			}
		case *runtime.EventExceptionThrown:
			report("exception: %s", (&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error())
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				report("browser log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		case *network.EventLoadingFailed:
			report("loading %s failed: %s (blocked: %s)", e.Type, e.ErrorText, e.BlockedReason)
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				report("HTTP %d for %s", e.Response.Status, e.Response.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// The browser authenticates every request, the stylesheet and icon included, as a
	// person's browser does after the basic-auth prompt.
	if _, err := chromedp.Call(bctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Authorization": "Basic b3BzOnB3"}, // ops:pw
	}); err != nil {
		t.Fatalf("set credentials: %v", err)
	}

	load := func() {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#target-0 .badge"))); err != nil {
			t.Fatalf("load status page: %v", err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	load()
	for sel, want := range map[string]string{
		"#target-0 .name":  "app",
		"#target-0 .badge": "✓ ok",
		"code.snapshot":    "app-20261124T030000Z",
		"#target-1 .badge": "✗ failing",
		"#overall":         "all snapshots fresh",
		`section[aria-labelledby="target-1"] pre.error`: "store: write billing-20261124T111500Z.dump.zst: no space left on device",
	} {
		if got := text(sel); got != want {
			t.Errorf("text of %s = %q, want %q", sel, got, want)
		}
	}
	// The stylesheet loaded under the CSP: the badge has its color, not the default.
	bg, err := chromedp.Run(bctx, chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector("#target-0 .badge")).backgroundColor`))
	if err != nil || bg != "rgb(26, 127, 55)" {
		t.Errorf("ok badge background = %q, %v; want rgb(26, 127, 55) from status.css", bg, err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if path := os.Getenv("PGSNAP_SCREENSHOT"); path != "" {
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Errorf("write screenshot: %v", err)
		}
	}

	// A day later without a new snapshot, the same page says late.
	clk.set(t0.Add(17 * time.Hour))
	load()
	if got := text("#target-0 .badge"); got != "! late" {
		t.Errorf("text of #target-0 .badge after the limit = %q, want %q", got, "! late")
	}
	if got := text("#overall"); got != "not ready" {
		t.Errorf("text of #overall after the limit = %q, want %q", got, "not ready")
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser reported: %s", p)
	}
}
