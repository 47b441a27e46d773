package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// resultsHeader starts a new RESULTS.md; sections go below resultsMarker, newest first.
const (
	resultsHeader = "# pgsnap benchmark results\n\n" +
		"Written by `make bench` (`go run ./bench`, see bench/README.md), newest first. Ratios from one run on a\n" +
		"shared machine are noisy: compare runs on the same machine, and read the min–max ranges.\n\n"
	resultsMarker = "<!-- newest results below -->\n"
)

// record is the machine-readable line a run leaves per data set, so a later run of another
// size can show its peak RSS beside its own.
type record struct {
	data, size string
	date       string // YYYY-MM-DD
	dbBytes    int64
	peakRSS    int64 // bytes
}

var recordRE = regexp.MustCompile(`<!-- bench-record data=(\S+) size=(\S+) date=(\S+) db_bytes=(\d+) peak_rss_bytes=(\d+) -->`)

func (r record) comment() string {
	return fmt.Sprintf("<!-- bench-record data=%s size=%s date=%s db_bytes=%d peak_rss_bytes=%d -->",
		r.data, r.size, r.date, r.dbBytes, r.peakRSS)
}

// recordOf returns the record of a data set's run: its database size and the peak RSS of its
// pgsnap commands; false when none of them had a result.
func recordOf(s setResult, size string, started time.Time) (record, bool) {
	rss, _ := s.peakRSS()
	if rss == 0 {
		return record{}, false
	}
	return record{data: s.name, size: size, date: started.UTC().Format("2006-01-02"), dbBytes: s.dbBytes, peakRSS: rss}, true
}

// parseRecords returns the records in a RESULTS.md, in file order (newest first).
func parseRecords(text string) []record {
	var out []record
	for _, m := range recordRE.FindAllStringSubmatch(text, -1) {
		db, err1 := strconv.ParseInt(m[4], 10, 64)
		rss, err2 := strconv.ParseInt(m[5], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, record{data: m[1], size: m[2], date: m[3], dbBytes: db, peakRSS: rss})
	}
	return out
}

// insertSection puts section at the top of the results below the header: newest first. A
// file without the marker keeps its text as the header.
func insertSection(existing, section string) string {
	if existing == "" {
		existing = resultsHeader + resultsMarker
	}
	head, tail, found := strings.Cut(existing, resultsMarker)
	if !found {
		head, tail = strings.TrimRight(existing, "\n")+"\n\n", ""
	}
	if tail != "" {
		tail = "\n" + strings.TrimLeft(tail, "\n")
	}
	return head + resultsMarker + "\n" + strings.TrimRight(section, "\n") + "\n" + tail
}

// readResults returns the file's text, "" when it does not exist yet.
func readResults(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read results: %w", err)
	}
	return string(b), nil
}

// writeResults replaces path with text through a temporary file, so an interrupted write
// leaves the old results whole.
func writeResults(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
