package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat: 100 on every Linux ABI Go
// runs on.
const clockTicks = 100

// serverMeter reads the CPU time the PostgreSQL server has used so far: user+system time of the
// postmaster and of each of its live children (backends, parallel workers, checkpointer, WAL
// writer, autovacuum), plus the postmaster's cutime+cstime, which holds the children it has
// reaped. The difference of two readings is the server's CPU between them, whichever backends
// started or exited in between. Linux only (/proc); the server may run as another user.
type serverMeter struct {
	dataDir string // holds postmaster.pid; read each time, as a restart changes the pid
}

// procTimes are the CPU fields of /proc/PID/stat, in clock ticks.
type procTimes struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

// read returns the server's CPU time so far.
func (s serverMeter) read() (time.Duration, error) {
	if s.dataDir == "" {
		return 0, errors.New("server CPU: no data directory")
	}
	b, err := os.ReadFile(filepath.Join(s.dataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pm <= 0 {
		return 0, fmt.Errorf("server CPU: bad postmaster.pid line %q", first)
	}
	// A child reaped between reading the postmaster and listing its children would be missed
	// (or counted twice): read again until the reaped total stands still.
	var ticks int64
	for range 5 {
		before, err := readProcTimes(pm)
		if err != nil {
			return 0, fmt.Errorf("server CPU: %w", err)
		}
		children, err := childTicks(pm)
		if err != nil {
			return 0, fmt.Errorf("server CPU: %w", err)
		}
		after, err := readProcTimes(pm)
		if err != nil {
			return 0, fmt.Errorf("server CPU: %w", err)
		}
		ticks = after.utime + after.stime + after.cutime + after.cstime + children
		if before.cutime == after.cutime && before.cstime == after.cstime {
			break
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// childTicks sums utime+stime of the live (or not yet reaped) children of pid.
func childTicks(pid int) (int64, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		t, err := readProcTimes(n)
		if err != nil || t.ppid != pid {
			continue // gone since the listing, or not ours
		}
		sum += t.utime + t.stime
	}
	return sum, nil
}

func readProcTimes(pid int) (procTimes, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procTimes{}, err
	}
	return parseProcStat(string(b))
}

// parseProcStat reads the fields of a /proc/PID/stat line that procTimes holds. The command
// name, in parentheses, may hold spaces and parentheses: the fields start after the last ')'.
func parseProcStat(line string) (procTimes, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return procTimes{}, errors.New("malformed /proc stat line")
	}
	f := strings.Fields(line[i+1:]) // f[0] is field 3 (state) of proc(5)
	if len(f) < 15 {
		return procTimes{}, errors.New("short /proc stat line")
	}
	var t procTimes
	var errs []error
	num := func(k int) int64 {
		v, err := strconv.ParseInt(f[k], 10, 64)
		errs = append(errs, err)
		return v
	}
	t.ppid = int(num(1))
	t.utime, t.stime, t.cutime, t.cstime = num(11), num(12), num(13), num(14)
	if err := errors.Join(errs...); err != nil {
		return procTimes{}, fmt.Errorf("/proc stat line: %w", err)
	}
	return t, nil
}
