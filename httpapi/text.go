package httpapi

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"
)

// TextOptions say where the figures of a report come from, for [WriteReport].
type TextOptions struct {
	// Source is printed under the heading: where the figures come from (a daemon's address,
	// or the store).
	Source string
	// StoreOnly marks a report read from the store without the daemon: the daemon's own
	// figures (its loop running, attempts, failures, last success and failure, drills since
	// start) are unknown, so they are not shown as zero, never or stopped.
	StoreOnly bool
}

// WriteText renders the status page's content as plain text for a terminal (`pgsnap
// status`): the same verdicts, facts and tables. Control characters in names and errors are
// escaped, so a stored string cannot drive the terminal.
func WriteText(w io.Writer, st Status) error {
	return WriteReport(w, Summarize(st), TextOptions{})
}

// WriteReport is WriteText for a report already judged (a daemon's /status.json, read back
// with Report.UnmarshalJSON), saying where its figures come from.
func WriteReport(w io.Writer, rep Report, o TextOptions) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(tw, format, args...) }

	overall := "READY: all snapshots fresh"
	if !rep.Ready {
		overall = "NOT READY"
	}
	if !rep.Healthy && !o.StoreOnly {
		overall += ", scheduler stopped"
	}
	p("pgsnap %s, as of %s: %s\n", cell(rep.Version), humanTime(rep.Now), overall)
	if o.Source != "" {
		p("source: %s\n", cell(o.Source))
	}
	switch {
	case len(rep.Targets) == 0 && o.StoreOnly:
		p("\nno snapshot in the store, and no target named (DATABASE_URL or SNAPSHOT_TARGET)\n")
	case len(rep.Targets) == 0:
		p("\nno targets configured\n")
	}
	for _, tr := range rep.Targets {
		t, v := tr.Target, tr.Verdict
		// No tab: the heading must not join the facts' column block.
		p("\n%s: %s, %s\n", cell(t.Name), strings.ToUpper(string(v.State)), cell(v.Reason))
		p("  schedule\t%s\n", or(cell(t.Schedule), "-"))
		p("  next slot\t%s\n", stamp(t.NextSlot, rep.Now))
		if o.StoreOnly {
			writeStoreFacts(p, t, v, rep)
		} else {
			writeDaemonFacts(p, t, rep)
		}
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
				failed := strconv.FormatInt(d.Failures, 10)
				if o.StoreOnly {
					failed = "-" // counted by the daemon since its start
				}
				p("  %s\t%d\t%s\t%s\t%d\n", cell(d.Name), d.Snapshots, humanBytes(d.Bytes), failed, d.Incomplete)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// writeDaemonFacts writes what the scheduler itself counts.
func writeDaemonFacts(p func(string, ...any), t Target, rep Report) {
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
}

// writeStoreFacts writes what the store tells without the daemon: the newest snapshot and
// drill. Attempts, failures and the loop's state live in the daemon only.
func writeStoreFacts(p func(string, ...any), t Target, v Verdict, rep Report) {
	p("  newest snapshot\t%s\n", stamp(v.Newest, rep.Now))
	if len(t.Snapshots) > 0 {
		s := t.Snapshots[0]
		p("  its size\t%s, took %s\n", humanBytes(s.Size), humanDuration(s.Duration))
	}
	p("  scheduler\tunknown: the daemon was not reached (attempts, failures and retries are counted there)\n")
	if d := t.Drill; d != nil {
		res := "passed"
		if !d.OK {
			res = "FAILED: " + oneLine(clean(d.Error), maxReasonError)
		}
		p("  newest drill\t%s on %s %s, took %s\n", res, cell(d.Snapshot), relative(d.At, rep.Now), humanDuration(d.Duration))
	} else {
		p("  newest drill\tnone recorded\n")
	}
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

// HumanBytes renders n in binary units with three significant digits ("512 B", "1.50 KiB",
// "23.4 GiB"): the one form every size pgsnap prints takes.
func HumanBytes(n int64) string { return humanBytes(n) }

// HumanRate renders bytes per second as the status page does ("395.0 MB/s").
func HumanRate(bps float64) string { return humanRate(bps) }

// Printable escapes every control character of s, newlines included, and every byte that is
// not UTF-8, the way Go writes them in a string literal (\x1b, \n, \u202e): a name, label or
// error that someone else stored cannot drive a terminal or fake a line of output.
func Printable(s string) string { return escape(s, false) }

// clean is Printable keeping newlines (multi-line errors), and tabs as spaces (they would
// shift the columns).
func clean(s string) string { return escape(strings.ReplaceAll(s, "\t", " "), true) }

func escape(s string, keepNewlines bool) string {
	if !needsEscape(s, keepNewlines) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && keepNewlines:
			b.WriteByte('\n')
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string, keepNewlines bool) bool {
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) && !(r == '\n' && keepNewlines) {
			return true
		}
	}
	return false
}

// unsafeRune reports a rune a terminal may act on: control characters and the invisible
// format characters (bidirectional overrides and the like).
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
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
