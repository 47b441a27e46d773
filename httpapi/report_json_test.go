package httpapi

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A daemon's /status.json read back gives pgsnap status the same report: the same JSON again
// and the same text as the daemon's own status would print.
func TestReportJSONRoundTrip(t *testing.T) {
	t.Parallel()
	st := fixture()
	st.Now = t0
	st.Targets = append(st.Targets, Target{Name: "billing", Interval: time.Hour, LastFailure: t0.Add(-time.Minute),
		LastError: "lock: held", Attempts: 1, Failures: map[string]int64{"lock": 1},
		Drill: &Drill{At: t0, Snapshot: "billing-20261124T110000Z", Error: "rows differ", Duration: 1500 * time.Millisecond}})
	rep := Summarize(st)
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("Unmarshal(%s) = %v", b, err)
	}
	again, err := json.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Errorf("JSON after a round trip differs:\nfirst  %s\nsecond %s", b, again)
	}
	var want, got bytes.Buffer
	if err := WriteText(&want, st); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(&got, back, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if want.String() != got.String() {
		t.Errorf("text of the report read back differs:\nwant\n%s\ngot\n%s", &want, &got)
	}
	if back.Targets[1].Verdict.State != StateNone || back.Targets[0].Target.Destinations[1].Failures != 1 {
		t.Errorf("read back: %+v", back.Targets)
	}
}

// A report from the store alone claims nothing the daemon counts: no "STOPPED", no
// "attempts 0", no "last success never" next to a fresh snapshot.
func TestWriteReportStoreOnly(t *testing.T) {
	t.Parallel()
	st := fixture()
	st.Now = t0
	tg := &st.Targets[0]
	tg.Alive, tg.LastSuccess, tg.LastFailure, tg.LastError = false, time.Time{}, time.Time{}, ""
	tg.Attempts, tg.Retries, tg.Failures, tg.DrillsPassed = 0, 0, nil, 0
	tg.Snapshots[0].Labels = map[string]string{"evil": "\x1b[2J"}
	tg.Snapshots[0].Name = "app-\u202e20261124T030000Z"
	var buf bytes.Buffer
	if err := WriteReport(&buf, Summarize(st), TextOptions{Source: "the store", StoreOnly: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"STOPPED", "stopped", "never", "\u202e"} {
		if strings.Contains(out, bad) {
			t.Errorf("store-only report says %q:\n%s", bad, out)
		}
	}
	if regexp.MustCompile(`attempts\s+\d`).MatchString(out) {
		t.Errorf("store-only report counts attempts:\n%s", out)
	}
	for _, want := range []string{"source: the store", "newest snapshot  2026-11-24 03:01:35 UTC (8h58m ago)", "not reached", `app-\u202e2026`} {
		if !strings.Contains(out, want) {
			t.Errorf("store-only report lacks %q:\n%s", want, out)
		}
	}
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain name":        "plain name",
		"a\x1b[31mb":        `a\x1b[31mb`,
		"line\nbreak\tx":    `line\nbreak\tx`,
		"bidi\u202eevil":    `bidi\u202eevil`,
		"bad\xffutf8":       `bad\xffutf8`,
		"école, 東京":         "école, 東京",
		"c1 \u009b control": `c1 \u009b control`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
