package httpapi

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

//go:embed web
var assets embed.FS

// refreshSeconds is how often the page reloads itself (a meta refresh: no script).
const refreshSeconds = 30

type pageRenderer struct{ tmpl *template.Template }

// pageData is what web/status.html renders.
type pageData struct {
	Report
	Refresh   int
	Attention int // targets whose state is not ok
}

type count struct {
	Key string
	N   int64
}

func newPageRenderer() (*pageRenderer, error) {
	funcs := template.FuncMap{
		"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"when":   humanTime,
		"rel":    relative,
		"stamp":  stamp,
		"dur":    humanDuration,
		"bytes":  humanBytes,
		"rate":   humanRate,
		"symbol": symbol,
		"counts": sortedCounts,
		"labels": sortedLabels,
		"join":   func(s []string) string { return strings.Join(s, ", ") },
	}
	t, err := template.New("status.html").Funcs(funcs).ParseFS(assets, "web/status.html")
	if err != nil {
		return nil, fmt.Errorf("parse status page: %w", err)
	}
	return &pageRenderer{tmpl: t}, nil
}

// render writes the page for st into a buffer first, so a template error never leaves half a
// page behind a 200.
func (p *pageRenderer) render(st Status) ([]byte, error) {
	var buf bytes.Buffer
	d := pageData{Report: Summarize(st), Refresh: refreshSeconds}
	for _, tr := range d.Targets {
		if tr.Verdict.State != StateOK {
			d.Attention++
		}
	}
	if err := p.tmpl.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render status page: %w", err)
	}
	return buf.Bytes(), nil
}

func (s *server) statusPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	st, err := s.current(r.Context())
	if err != nil {
		s.log.Warn("status page", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	page, err := s.page.render(st)
	if err != nil {
		s.log.Error("status page", "err", err)
		http.Error(w, "render status page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(page)
}

// stamp renders an absolute time with its distance from now: "2026-11-24 03:00:00 UTC (in
// 3h)", or "never".
func stamp(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return humanTime(t) + " (" + relative(t, now) + ")"
}

// humanRate renders bytes per second in decimal megabytes, the unit disks and networks are
// quoted in.
func humanRate(bps float64) string {
	return fmt.Sprintf("%.1f MB/s", bps/1e6)
}

// symbol gives each state a shape, so the badge does not rely on color alone.
func symbol(s State) string {
	switch s {
	case StateOK:
		return "✓"
	case StateFailing:
		return "✗"
	case StateLate:
		return "!"
	default:
		return "–"
	}
}

func sortedCounts(m map[string]int64) []count {
	out := make([]count, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, count{Key: k, N: m[k]})
	}
	return out
}

func sortedLabels(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}
