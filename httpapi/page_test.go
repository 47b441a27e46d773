package httpapi

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	evilName  = `<script>alert("name")</script>`
	evilError = `"><img src=x onerror=alert(1)> </pre><script>alert('err')</script>`
)

func evilStatus() Status {
	st := fixture()
	tg := &st.Targets[0]
	tg.Name = evilName
	tg.Schedule = `<b>daily</b>`
	tg.LastFailure, tg.LastError = t0, evilError
	tg.Failures = map[string]int64{"<i>dump</i>": 1}
	tg.Snapshots[0].Name = `snap"><script>1</script>`
	tg.Snapshots[0].Labels = map[string]string{"<k>": "<v>"}
	tg.Snapshots[1].Missing = []string{"<offsite>"}
	tg.Destinations[0].Name = "<dest>"
	tg.Drill = &Drill{At: t0, Snapshot: "<s>", Error: evilError}
	st.Version = `<v1>`
	return st
}

func TestPageEscapes(t *testing.T) {
	t.Parallel()
	srv, src, _ := serve(t, Options{})
	src.set(evilStatus())
	r := get(t, srv.URL+"/", nil)
	if r.code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", r.code)
	}
	for _, raw := range []string{"<script", "<img", "<b>", "<i>", "<k>", "<v>", "<offsite>", "<dest>", "<s>", "<v1>", "</pre><"} {
		if strings.Contains(r.body, raw) {
			t.Errorf("GET / body contains unescaped %q", raw)
		}
	}
	for _, escaped := range []string{"&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;"} {
		if !strings.Contains(r.body, escaped) {
			t.Errorf("GET / body lacks the escaped text %q", escaped)
		}
	}
}

func TestPageContent(t *testing.T) {
	t.Parallel()
	srv, _, _ := serve(t, Options{})
	r := get(t, srv.URL+"/", nil)
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET / Content-Type = %q, want text/html; charset=utf-8", ct)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="30">`,
		`<link rel="stylesheet" href="static/status.css">`,
		`data-state="ok"`,
		"app-20261124T030000Z",
		"1.50 GiB",
		"1m35s",
		"sha256",
		"offsite",
		"2026-11-25 03:00:00 UTC (in 15h)",
		"dump: pg_dump: connection refused",
		"395.0 MB/s",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("GET / body lacks %q", want)
		}
	}
	if strings.Contains(r.body, "<script") || strings.Contains(r.body, " style=") {
		t.Errorf("GET / body has a script or inline style; the CSP forbids both")
	}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	st := fixture()
	st.Now = t0
	never := Target{Name: "billing", Interval: time.Hour, Alive: false, LastFailure: t0.Add(-time.Minute),
		LastError: "lock: held by pid 42\n\x1b[31mred\x1b[0m", Attempts: 1}
	st.Targets = append(st.Targets, never)
	var buf bytes.Buffer
	if err := WriteText(&buf, st); err != nil {
		t.Fatalf("WriteText() error = %v", err)
	}
	if bytes.ContainsRune(buf.Bytes(), '\x1b') {
		t.Errorf("WriteText() output contains an escape character")
	}
	golden(t, "status.txt", buf.Bytes())
}
