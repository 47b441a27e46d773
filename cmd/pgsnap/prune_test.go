package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// writeSyntheticSnapshots stores n snapshots of target, one a day at 03:00 UTC from first, as
// pgsnap writes them (data, then manifest); their data is a few bytes, enough for retention.
func writeSyntheticSnapshots(t *testing.T, dir, target string, first time.Time, n int) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range n {
		slot := first.AddDate(0, 0, i)
		name := target + "-" + slot.Format("20060102T150405Z")
		data := []byte("PGDMP synthetic " + name)
		sum := sha256.Sum256(data)
		m := map[string]any{
			"manifest_version": 1, "name": name, "target": target, "database": target, "slot": slot,
			"started_at": slot, "finished_at": slot.Add(time.Minute), "data": name + ".dump",
			"size": len(data), "sha256": hex.EncodeToString(sum[:]), "format": "custom",
			"compression": "pg_dump", "encrypted": false, "pg_dump_version": "15.18", "server_version": "15.18",
			"labels": map[string]string{},
		}
		b, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(dir, name+".dump"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// prune --dry-run with GFS settings on 400 synthetic snapshots prints the expected decisions
// (golden file); one snapshot pinned with pgsnap pin is kept whatever the policy says; a real
// prune then leaves exactly the kept set.
func TestPruneGFSGolden(t *testing.T) {
	invariants.Fault(t, "T21")
	dir := filepath.Join(t.TempDir(), "snapshots")
	names := writeSyntheticSnapshots(t, dir, "app", time.Date(2025, 10, 22, 3, 0, 0, 0, time.UTC), 400)
	env := map[string]string{
		"SNAPSHOT_DIR": dir, "SNAPSHOT_TARGET": "app", "SNAPSHOT_RETENTION": "3",
		"SNAPSHOT_KEEP_DAILY": "7", "SNAPSHOT_KEEP_WEEKLY": "4", "SNAPSHOT_KEEP_MONTHLY": "12", "SNAPSHOT_KEEP_YEARLY": "2",
	}
	pinned := names[10] // a Saturday in November 2025: no bucket keeps it
	if r := runPgsnapQuiet(t, env, "pin", pinned); r.code != 0 {
		t.Fatalf("pin: exit %d: %s", r.code, r.stderr)
	}
	r := runPgsnapQuiet(t, env, "prune", "--dry-run")
	if r.code != 0 {
		t.Fatalf("prune --dry-run: exit %d: %s", r.code, r.stderr)
	}
	got := strings.ReplaceAll(r.stdout, dir, "$DIR")
	golden := filepath.Join("testdata", "prune-gfs-400.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("prune --dry-run (-golden +got):\n%s", diff)
	}
	var keep []string
	for _, line := range strings.Split(got, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "keep" {
			keep = append(keep, f[1])
		}
	}
	if !strings.Contains(got, "keep   "+pinned) || !strings.Contains(got, "pinned") {
		t.Errorf("the pinned snapshot %s is not kept as pinned", pinned)
	}

	if r := runPgsnapQuiet(t, env, "prune"); r.code != 0 {
		t.Fatalf("prune: exit %d: %s", r.code, r.stderr)
	}
	var left []string
	for _, s := range listJSON(t, env) {
		left = append(left, s.Name)
	}
	if diff := cmp.Diff(keep, left); diff != "" {
		t.Errorf("snapshots left after prune differ from the dry run's keep set (-dry run +left):\n%s", diff)
	}
	// Unpinned, it goes at the next prune.
	if r := runPgsnapQuiet(t, env, "unpin", pinned); r.code != 0 {
		t.Fatalf("unpin: exit %d", r.code)
	}
	runPgsnapQuiet(t, env, "prune")
	for _, s := range listJSON(t, env) {
		if s.Name == pinned {
			t.Errorf("%s kept after unpin and prune", pinned)
		}
	}
}

// pgsnap status reads freshness from the store: a snapshot an hour old is fresh (exit 0), none
// at all is not (exit 1), and --json says so.
func TestStatusExitCodeFollowsFreshness(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	env := map[string]string{"SNAPSHOT_DIR": dir, "SNAPSHOT_TARGET": "app"}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if r := runPgsnapQuiet(t, env, "status", "--json"); r.code != 1 || !strings.Contains(r.stdout, `"state": "none"`) {
		t.Errorf("status with no snapshot: exit %d, stdout %.300s; want 1 and state none", r.code, r.stdout)
	}
	writeSyntheticSnapshots(t, dir, "app", time.Now().UTC().Add(-time.Hour).Truncate(time.Second), 1)
	if r := runPgsnapQuiet(t, env, "status"); r.code != 0 || !strings.Contains(r.stdout, "app-") {
		t.Errorf("status with a snapshot an hour old: exit %d, stdout %.300s; want 0 showing it", r.code, r.stdout)
	}
}
