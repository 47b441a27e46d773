package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// machine describes where the figures were measured.
type machine struct {
	cores     int
	cpuModel  string
	memTotal  int64 // bytes
	kernel    string
	loadAvg   string
	goVersion string
	pgServer  string // server_version
	pgDump    string // pg_dump --version
	pgsnap    string // first line of pgsnap version
}

// describeMachine gathers what it can; a fact it cannot read reads "unknown".
func describeMachine(ctx context.Context, c *pgtest.Cluster, pgsnapBin string) machine {
	m := machine{
		cores:     runtime.NumCPU(),
		cpuModel:  "unknown CPU",
		kernel:    "unknown",
		loadAvg:   "unknown",
		goVersion: runtime.Version(),
		pgServer:  "unknown",
		pgDump:    "unknown",
		pgsnap:    "unknown",
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == "MemTotal:" {
				if kib, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
					m.memTotal = kib << 10
				}
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.loadAvg = strings.Join(f[:3], " ")
		}
	}
	if conn, err := c.Connect(ctx, "postgres"); err == nil {
		var v string
		if conn.QueryRow(ctx, "SHOW server_version").Scan(&v) == nil {
			m.pgServer = v
		}
		conn.Close(ctx)
	}
	if out, err := exec.CommandContext(ctx, filepath.Join(c.BinDir, "pg_dump"), "--version").Output(); err == nil {
		m.pgDump = strings.TrimSpace(string(out)) + " in " + c.BinDir
	}
	cmd := exec.CommandContext(ctx, pgsnapBin, "version")
	cmd.Env = baseEnv(os.Environ())
	if out, err := cmd.Output(); err == nil {
		m.pgsnap, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	return m
}
