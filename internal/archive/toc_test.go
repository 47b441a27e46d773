package archive

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// restoreList is what pg_restore --list --verbose says of an archive file: its header fields
// and one line per TOC entry with the catalog IDs left out ("3382; TABLE DATA public accounts
// postgres").
type restoreList struct {
	header  map[string]string
	entries []string
}

var (
	listHeaderLine = regexp.MustCompile(`^;\s+([A-Za-z_ ]+): (.*)$`)
	listEntryLine  = regexp.MustCompile(`^(\d+); \d+ \d+ (.*)$`)
)

func pgRestoreList(t *testing.T, c *pgtest.Cluster, path string) restoreList {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary(t, c, "pg_restore"), "--list", "--verbose", path).Output()
	if err != nil {
		t.Fatalf("pg_restore --list: %v", err)
	}
	l := restoreList{header: make(map[string]string)}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := listEntryLine.FindStringSubmatch(line); m != nil {
			l.entries = append(l.entries, m[1]+"; "+m[2])
		} else if m := listHeaderLine.FindStringSubmatch(line); m != nil {
			l.header[m[1]] = m[2]
		}
	}
	return l
}

// listLine renders an entry as pg_restore --list does (PrintTOCSummary), catalog IDs left out.
func listLine(e Entry) string {
	ns := e.Namespace
	if ns == "" {
		ns = "-"
	}
	return fmt.Sprintf("%d; %s %s %s %s", e.DumpID, e.Desc, ns, e.Tag, e.Owner)
}

// TestReadTOCMatchesRestoreList compares ReadTOC with pg_restore's reading of the same archive.
func TestReadTOCMatchesRestoreList(t *testing.T) {
	c, db := newDB(t, fixtureSQL)
	for _, mode := range dumpModes {
		t.Run(mode.name, func(t *testing.T) {
			archive := pgDump(t, c, db, mode.args...)
			list := pgRestoreList(t, c, writeFile(t, "archive.dump", archive))

			h, entries, err := ReadTOC(bytes.NewReader(archive))
			if err != nil {
				t.Fatalf("ReadTOC() error = %v", err)
			}
			compression := map[string]string{"0": "none", "-1": "gzip"}[list.header["Compression"]]
			wantHeader := Header{
				Version:       strings.TrimSuffix(list.header["Dump Version"], "-0"),
				Compression:   compression,
				Database:      list.header["dbname"],
				ServerVersion: list.header["Dumped from database version"],
				DumpVersion:   list.header["Dumped by pg_dump version"],
			}
			if wantHeader.Database != db || compression == "" {
				t.Fatalf("pg_restore --list header not understood: %q", list.header)
			}
			if diff := cmp.Diff(wantHeader, h); diff != "" {
				t.Errorf("ReadTOC() header mismatch (-pg_restore +got):\n%s", diff)
			}
			var got []string
			for _, e := range entries {
				got = append(got, listLine(e))
			}
			if diff := cmp.Diff(list.entries, got); diff != "" {
				t.Errorf("ReadTOC() entries mismatch (-pg_restore +got):\n%s", diff)
			}
			if n := fmt.Sprint(len(entries)); n != list.header["TOC Entries"] {
				t.Errorf("ReadTOC() returned %s entries, pg_restore counts %s", n, list.header["TOC Entries"])
			}
		})
	}
}

// TestReadTOCStopsAfterTOC checks that ReadTOC leaves the data blocks unread, from a reader
// and from a pipe whose writer sends the archive in odd pieces.
func TestReadTOCStopsAfterTOC(t *testing.T) {
	archive := readFixture(t, "fixture-z0.dump")
	_, want, err := ReadTOC(bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("ReadTOC() error = %v", err)
	}

	r := bytes.NewReader(archive)
	if _, _, err := ReadTOC(r); err != nil {
		t.Fatalf("ReadTOC() error = %v", err)
	}
	// The rest starts with the first data block: its type, then the dump ID of the first
	// entry with data.
	rest := archive[len(archive)-r.Len():]
	var firstData Entry
	for _, e := range want {
		if e.HasData {
			firstData = e
			break
		}
	}
	if wantHead := []byte{blkData, 0, byte(firstData.DumpID), byte(firstData.DumpID >> 8), 0, 0}; !bytes.HasPrefix(rest, wantHead) {
		t.Errorf("after ReadTOC the reader is at % x, want the data block of %s (% x)", rest[:min(len(rest), 6)], listLine(firstData), wantHead)
	}

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		var err error
		for b := archive; len(b) > 0 && err == nil; {
			n := min(len(b), 1+len(b)%977)
			_, err = pw.Write(b[:n])
			b = b[n:]
		}
		done <- err
	}()
	_, got, err := ReadTOC(pr)
	pr.Close() // the writer, mid-data, sees the pipe closed
	if err != nil {
		t.Fatalf("ReadTOC(pipe) error = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadTOC(pipe) mismatch (-reader +pipe):\n%s", diff)
	}
	if err := <-done; !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("pipe writer error = %v, want io.ErrClosedPipe (ReadTOC read to the end)", err)
	}
}

// TestReadTOCTruncated cuts an archive at every byte of its header and TOC.
func TestReadTOCTruncated(t *testing.T) {
	archive := readFixture(t, "fixture-z0.dump")
	r := bytes.NewReader(archive)
	if _, _, err := ReadTOC(r); err != nil {
		t.Fatalf("ReadTOC() error = %v", err)
	}
	tocEnd := len(archive) - r.Len()
	for cut := range tocEnd {
		h, entries, err := ReadTOC(bytes.NewReader(archive[:cut]))
		want := ErrTruncated
		if cut == 0 {
			want = ErrNotArchive
		}
		if !errors.Is(err, want) {
			t.Fatalf("ReadTOC(archive[:%d]) = %+v, %d entries, %v; want error %v", cut, h, len(entries), err, want)
		}
	}
}

// TestReadTOCReadError passes on the reader's own errors.
func TestReadTOCReadError(t *testing.T) {
	archive := readFixture(t, "fixture-z0.dump")
	errDisk := errors.New("disk on fire")
	r := io.MultiReader(bytes.NewReader(archive[:100]), &failingReader{errDisk})
	if _, _, err := ReadTOC(r); !errors.Is(err, errDisk) {
		t.Errorf("ReadTOC() error = %v, want %v", err, errDisk)
	}
}

type failingReader struct{ err error }

func (r *failingReader) Read([]byte) (int, error) { return 0, r.err }
