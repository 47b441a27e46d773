package soak_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// pgsnapBin is the pgsnap binary built once for this package's tests.
var pgsnapBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "pgsnap-soak-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		pgsnapBin = filepath.Join(dir, "pgsnap")
		build := exec.Command("go", "build", "-o", pgsnapBin, "github.com/pgsnap/pgsnap/cmd/pgsnap")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build pgsnap: %v\n", err)
			return 1
		}
		return pgtest.Run(m)
	}())
}

// pgsnapCmd prepares a pgsnap run with exactly env plus PATH, HOME, TMPDIR and LANG: no
// SNAPSHOT_* or DATABASE_URL of the developer's own leaks in.
func pgsnapCmd(env map[string]string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(pgsnapBin, args...)
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// runJSON runs a pgsnap command that prints JSON and decodes it into out; it returns the exit
// code.
func runJSON(t *testing.T, env map[string]string, out any, args ...string) int {
	t.Helper()
	cmd, stdout, stderr := pgsnapCmd(env, args...)
	cmd.Run() // the exit code says how it went
	code := cmd.ProcessState.ExitCode()
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("pgsnap %s (exit %d): %v\n%s", strings.Join(args, " "), code, err, stderr)
	}
	return code
}

// listed is what the soak reads of `pgsnap list --json`.
type listed struct {
	Name string     `json:"name"`
	Slot *time.Time `json:"slot"`
}

// verifiedGood runs `pgsnap verify --all --json` and returns the names of the snapshots that
// passed and of those that failed.
func verifiedGood(t *testing.T, env map[string]string) (good, bad []string) {
	t.Helper()
	var results []struct {
		Name string `json:"name"`
		OK   bool   `json:"ok"`
	}
	code := runJSON(t, env, &results, "verify", "--all", "--json")
	for _, res := range results {
		if res.OK {
			good = append(good, res.Name)
		} else {
			bad = append(bad, res.Name)
		}
	}
	if (len(bad) == 0) != (code == 0) {
		t.Errorf("verify --all: exit %d with %d failed snapshots", code, len(bad))
	}
	return good, bad
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func healthy(addr string) bool {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// procStatusKiB reads one "Name:   123 kB" field of /proc/<pid>/status, in KiB.
func procStatusKiB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		if f := strings.Fields(rest); len(f) > 0 {
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}
