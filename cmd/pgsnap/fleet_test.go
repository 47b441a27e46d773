package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// syncBuf is a bytes.Buffer safe for a child's writes and the test's reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// T28 at fleet scale: three identical daemons with one configuration file of 30 targets on a
// one-minute schedule share the work through the targets' locks, with no leader: every slot of
// every target is taken exactly once, by whichever daemon got there first, and the dumps spread
// over all three. Killing one daemon moves its share to the other two at the next slot.
func TestFleetSharesSlotsAcrossDaemons(t *testing.T) {
	invariants.Fault(t, "T28")
	c := pgtest.Get(t)
	const targets = 30
	dir := filepath.Join(t.TempDir(), "snapshots")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "settings:\n  SNAPSHOT_DIR: %s\n  SNAPSHOT_SCHEDULE: \"* * * * *\"\n  SNAPSHOT_CATCH_UP: skip\n  SNAPSHOT_RETENTION: 10\n  SNAPSHOT_HTTP_ADDR: \"off\"\nmax_concurrent: 2\ntargets:\n", dir)
	for i := range targets {
		db := c.CreateDB(t)
		if err := c.Exec(t.Context(), db, fmt.Sprintf("CREATE TABLE t AS SELECT g FROM generate_series(1, %d) g", 1000+i)); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, "  - name: t%02d\n    database_url: %q\n", i, c.URL(db))
	}
	file := filepath.Join(t.TempDir(), "pgsnap.yaml")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	type daemon struct {
		cmd *exec.Cmd
		log *syncBuf
	}
	var daemons []daemon
	for range 3 {
		cmd := exec.Command(pgsnapBin, "run", "--config", file)
		cmd.Env = envList(nil)
		log := &syncBuf{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		daemons = append(daemons, daemon{cmd, log})
	}
	defer func() {
		for _, d := range daemons {
			d.cmd.Process.Signal(syscall.SIGTERM)
			d.cmd.Wait()
		}
	}()

	waitSlot := func(slot time.Time) map[string]int {
		deadline := slot.Add(75 * time.Second)
		for time.Now().Before(deadline) {
			if n := len(storedForSlot(t, dir, slot)); n == targets {
				break
			}
			time.Sleep(time.Second)
		}
		return storedForSlot(t, dir, slot)
	}

	first := time.Now().UTC().Truncate(time.Minute).Add(time.Minute)
	if time.Until(first) < 20*time.Second {
		first = first.Add(time.Minute) // the daemons need a moment to start
	}
	got := waitSlot(first)
	split := []int{countSlot(daemons[0].log.String(), first), countSlot(daemons[1].log.String(), first), countSlot(daemons[2].log.String(), first)}
	checkSlot(t, first, got, targets)
	invariants.Report(t, "T28 fleet: 3 daemons, %d targets, slot %s: stored %d, split %v", targets, first.Format("15:04"), len(got), split)
	for i, n := range split {
		if n == 0 {
			t.Errorf("daemon %d took no dump of slot %s (split %v): the work is not shared", i, first.Format("15:04"), split)
		}
	}

	// SIGKILL one daemon: the next slot is taken in full by the other two.
	daemons[0].cmd.Process.Kill()
	daemons[0].cmd.Wait()
	next := first.Add(time.Minute)
	got = waitSlot(next)
	split2 := []int{countSlot(daemons[1].log.String(), next), countSlot(daemons[2].log.String(), next)}
	checkSlot(t, next, got, targets)
	invariants.Report(t, "T28 fleet after SIGKILL of one daemon: slot %s stored %d, split %v", next.Format("15:04"), len(got), split2)
	if split2[0]+split2[1] != targets {
		t.Errorf("slot %s: the two daemons left committed %v, want %d in all", next.Format("15:04"), split2, targets)
	}
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, MinComplete: 2 * targets})
}

// countSlot counts the snapshots of slot a daemon's log says it committed.
func countSlot(log string, slot time.Time) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `msg="snapshot committed"`) && strings.Contains(line, slot.Format("20060102T150405Z")) {
			n++
		}
	}
	return n
}

// storedForSlot reads the manifests of dir and counts the snapshots of each target for slot.
func storedForSlot(t *testing.T, dir string, slot time.Time) map[string]int {
	t.Helper()
	out := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		if strings.HasSuffix(f, ".drill.json") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var m struct {
			Target string     `json:"target"`
			Slot   *time.Time `json:"slot"`
		}
		if json.Unmarshal(b, &m) == nil && m.Slot != nil && m.Slot.Equal(slot) {
			out[m.Target]++
		}
	}
	return out
}

func checkSlot(t *testing.T, slot time.Time, got map[string]int, targets int) {
	t.Helper()
	if len(got) != targets {
		t.Errorf("slot %s: %d of %d targets stored", slot.Format("15:04"), len(got), targets)
	}
	for target, n := range got {
		if n != 1 {
			t.Errorf("slot %s: target %s has %d snapshots, want 1", slot.Format("15:04"), target, n)
		}
	}
}
