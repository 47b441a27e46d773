package httpapi

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
)

// WriteText renders the status page's content as plain text for a terminal (`pgsnap
// status`): the same verdicts, facts and tables. Control characters in names and errors are
// replaced, so a stored string cannot drive the terminal.
func WriteText(w io.Writer, st Status) error {
	rep := Summarize(st)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(tw, format, args...) }

	overall := "READY: all snapshots fresh"
	if !rep.Ready {
		overall = "NOT READY"
	}
	if !rep.Healthy {
		overall += ", scheduler stopped"
	}
	p("pgsnap %s, as of %s: %s\n", cell(rep.Version), humanTime(rep.Now), overall)
	if len(rep.Targets) == 0 {
		p("\nno targets configured\n")
	}
	for _, tr := range rep.Targets {
		t, v := tr.Target, tr.Verdict
		// No tab: the heading must not join the facts' column block.
		p("\n%s: %s, %s\n", cell(t.Name), strings.ToUpper(string(v.State)), cell(v.Reason))
		p("  schedule\t%s\n", or(cell(t.Schedule), "-"))
		p("  next slot\t%s\n", stamp(t.NextSlot, rep.Now))
		p("  last success\t%s\n", stamp(t.LastSuccess, rep.Now))
		p("  last failure\t%s\n", stamp(t.LastFailure, rep.Now))
		if t.LastDuration > 0 {
			p("  last duration\t%s\n", humanDuration(t.LastDuration))
		}
		if t.LastSize > 0 {
			p("  last size\t%s\n", humanBytes(t.LastSize))
		}
		if t.DumpBytesPerSecond > 0 {
			p("  dump speed\t%s\n", humanRate(t.DumpBytesPerSecond))
		}
		p("  attempts\t%d (retries %d)\n", t.Attempts, t.Retries)
		p("  failures\t%s\n", or(failureList(t.Failures), "none"))
		p("  scheduler\t%s\n", map[bool]string{true: "running", false: "STOPPED"}[t.Alive])
		p("  drills\t%s\n", drillLine(t, rep))
		if t.LastError != "" {
			p("  last error\t%s\n", indent(clean(t.LastError)))
		}
		if len(t.Snapshots) > 0 {
			p("\n  SNAPSHOT\tFINISHED\tSIZE\tTOOK\tCHECKS\tDRILL\tMISSING\n")
			for _, s := range t.Snapshots {
				drill := "-"
				if s.Drill != nil {
					drill = map[bool]string{true: "passed", false: "FAILED"}[s.Drill.OK]
				}
				p("  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", cell(s.Name), relative(s.Time, rep.Now),
					humanBytes(s.Size), humanDuration(s.Duration),
					or(cell(strings.Join(s.Checks, ",")), "-"), drill,
					or(cell(strings.Join(s.Missing, ",")), "none"))
			}
		}
		if len(t.Destinations) > 0 {
			p("\n  DESTINATION\tSNAPSHOTS\tSTORED\tFAILED COPIES\tMISSING\n")
			for _, d := range t.Destinations {
				p("  %s\t%d\t%s\t%d\t%d\n", cell(d.Name), d.Snapshots, humanBytes(d.Bytes), d.Failures, d.Incomplete)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

func drillLine(t Target, rep Report) string {
	s := fmt.Sprintf("%d passed, %d failed", t.DrillsPassed, t.DrillsFailed)
	d := t.Drill
	if d == nil {
		return s + "; no drill yet"
	}
	res := "passed"
	if !d.OK {
		res = "FAILED: " + oneLine(clean(d.Error), maxReasonError)
	}
	return fmt.Sprintf("%s; newest %s on %s %s, took %s", s, res, cell(d.Snapshot),
		relative(d.At, rep.Now), humanDuration(d.Duration))
}

func failureList(m map[string]int64) string {
	var parts []string
	for _, c := range sortedCounts(m) {
		parts = append(parts, fmt.Sprintf("%s %d", cell(c.Key), c.N))
	}
	return strings.Join(parts, ", ")
}

// clean replaces control characters other than newline with U+FFFD, and tabs with spaces
// (they would shift the columns).
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r != '\n' && unicode.IsControl(r):
			return '\uFFFD'
		}
		return r
	}, s)
}

// cell is clean on one line: for names and table cells.
func cell(s string) string { return strings.Join(strings.Fields(clean(s)), " ") }

// indent continues a multi-line value under its tabwriter column.
func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  \t")
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
