package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// A postgres backend names itself with spaces and parentheses.
	line := "4242 (postgres: u db 127.0.0.1(5432) COPY) S 17 4242 4242 0 -1 4194560 900 0 0 0 " +
		"250 40 7 3 20 0 1 0 1234 200000000 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	got, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := (procTimes{ppid: 17, utime: 250, stime: 40, cutime: 7, cstime: 3}); got != want {
		t.Errorf("parseProcStat = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S a 1 1 0 -1 0 0 0 0 0 1 1 1 1 20"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q) = nil error, want one", bad)
		}
	}
}

func TestServerMeter(t *testing.T) {
	dir := t.TempDir()
	// This test process stands in for the postmaster.
	if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(strconv.Itoa(os.Getpid())+"\n/data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := serverMeter{dataDir: dir}
	before, err := m.read()
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 20_000_000 { // burn a little CPU
		x += i % 7
	}
	after, err := m.read()
	if err != nil {
		t.Fatal(err)
	}
	if after < before || x < 0 {
		t.Errorf("server CPU went from %v to %v, want it not to shrink", before, after)
	}
	if _, err := (serverMeter{dataDir: t.TempDir()}).read(); err == nil {
		t.Error("read without postmaster.pid = nil error, want one")
	}
}
