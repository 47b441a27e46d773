package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writeSnapshot stores one synthetic snapshot of target at t with size bytes of data and
// labels, as pgsnap writes it (data, then manifest), and returns its name.
func writeSnapshot(t *testing.T, dir, target string, at time.Time, size int, labels map[string]string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := target + "-" + at.UTC().Format("20060102T150405Z")
	data := bytes.Repeat([]byte("PGDMP synthetic "), size/16+1)[:size]
	sum := sha256.Sum256(data)
	b, _ := json.Marshal(map[string]any{
		"manifest_version": 1, "name": name, "target": target, "database": target,
		"started_at": at, "finished_at": at.Add(time.Minute), "data": name + ".dump",
		"size": size, "sha256": hex.EncodeToString(sum[:]), "format": "custom",
		"compression": "pg_dump", "encrypted": false, "pg_dump_version": "15.18", "server_version": "15.18",
		"labels": labels,
	})
	if err := os.WriteFile(filepath.Join(dir, name+".dump"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// Item 10: list with a configuration file lists every target of it, in every destination it
// names, unless --target narrows it; it connects to no database.
func TestListWithConfigFileListsEveryTarget(t *testing.T) {
	addr, conns := connCounter(t)
	root := t.TempDir()
	dirA, dirB := filepath.Join(root, "a"), filepath.Join(root, "b")
	now := time.Now().UTC().Truncate(time.Second)
	billing := writeSnapshot(t, dirA, "billing", now.Add(-2*time.Hour), 1000, nil)
	shop := writeSnapshot(t, dirB, "shop", now.Add(-time.Hour), 1000, nil)
	db2 := writeSnapshot(t, dirB, "db2.app", now.Add(-3*time.Hour), 1000, nil)
	cfg := filepath.Join(root, "pgsnap.yaml")
	yaml := "settings: {SNAPSHOT_DIR: " + dirA + "}\ntargets:\n" +
		"  - name: billing\n    database_url: postgres://backup@" + addr + "/billing\n" +
		"  - name: shop\n    database_url: postgres://backup@" + addr + "/shop\n    settings: {SNAPSHOT_DIR: " + dirB + "}\n" +
		"servers:\n  - name: db2\n    url: postgres://backup@" + addr + "/postgres\n    all_databases: true\n    settings: {SNAPSHOT_DIR: " + dirB + "}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SNAPSHOT_CONFIG": cfg}
	got := snapNames(listJSON(t, env))
	if want := []string{shop, billing, db2}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("list --config = %v, want every target, newest first: %v", got, want)
	}
	r := runPgsnap(t, env, "list", "--json", "--target", "shop")
	var narrowed []listed
	if err := json.Unmarshal([]byte(r.stdout), &narrowed); err != nil || len(narrowed) != 1 || narrowed[0].Name != shop {
		t.Errorf("list --target shop = %v (%v), want only %s", snapNames(narrowed), err, shop)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("list connected to a database %d times", n)
	}
	t.Logf("list --config: %d targets in 2 directories listed, --target narrowed to 1; connections %d", len(got), conns.Load())
}

// Sizes read the same in list and status (one function), and what someone else stored
// (labels) cannot drive the terminal.
func TestListAndStatusPrintSizesAlikeAndEscapeLabels(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots")
	name := writeSnapshot(t, dir, "app", time.Now().UTC().Add(-time.Hour).Truncate(time.Second), 3_300_000,
		map[string]string{"note": "\x1b[2J\x1b[31mred\tcell\nline"})
	env := map[string]string{"SNAPSHOT_DIR": dir}
	list := runPgsnap(t, env, "list")
	status := runPgsnap(t, env, "status")
	const size = "3.15 MiB"
	row := func(out string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, name) {
				return l
			}
		}
		return ""
	}
	for cmd, out := range map[string]string{"list": list.stdout, "status": status.stdout} {
		if !strings.Contains(row(out), " "+size+" ") {
			t.Errorf("%s shows %s as %q, want the size as %s", cmd, name, row(out), size)
		}
		if strings.ContainsAny(out, "\x1b") {
			t.Errorf("%s prints an escape character", cmd)
		}
	}
	if !strings.Contains(row(list.stdout), `note=\x1b[2J\x1b[31mred\tcell\nline`) {
		t.Errorf("list shows the label as %q, want it escaped on its row", row(list.stdout))
	}
}

// Item 11: each command's help fits a screen, shows its own flags and not the settings, and
// "pgsnap help settings" lists every setting.
func TestHelpFitsAScreen(t *testing.T) {
	for _, c := range []string{"run", "snapshot", "list", "verify", "restore", "export", "diff", "prune", "sync", "pin", "unpin", "status", "version"} {
		r := runPgsnap(t, nil, c, "--help")
		lines := strings.Count(r.stdout, "\n")
		if r.code != 0 || lines > 50 {
			t.Errorf("%s --help: exit %d, %d lines; want 0 and one screen", c, r.code, lines)
		}
		if strings.Contains(r.stdout, `\n`) || strings.Contains(r.stdout, "--s3-sse-kms-key-id") || strings.Contains(r.stdout, "Global Flags") {
			t.Errorf("%s --help shows a literal \\n or the global settings:\n%s", c, r.stdout)
		}
		if !regexp.MustCompile(`Examples:\n  \S`).MatchString(r.stdout) {
			t.Errorf("%s --help has no example", c)
		}
		if !strings.Contains(r.stdout, "pgsnap help settings") {
			t.Errorf("%s --help does not point at pgsnap help settings", c)
		}
	}
	if r := runPgsnap(t, nil, "restore", "--help"); !strings.Contains(r.stdout, "--target-url") || !strings.Contains(r.stdout, "--quiet") {
		t.Errorf("restore --help lacks its own flags")
	}
	r := runPgsnap(t, nil, "help", "settings")
	for _, want := range []string{"DATABASE_URL (--database-url", "SNAPSHOT_S3_SSE_KMS_KEY_ID (--s3-sse-kms-key-id", "SNAPSHOT_HTTP_TOKEN (environment only",
		"SNAPSHOT_RESTORE_URL (restore --target-url", "SNAPSHOT_LOG_LEVEL (--log-level, default info)", "accepted: a whole number ≥ 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("pgsnap help settings lacks %q", want)
		}
	}
	// The hidden settings flags still work, before or after the command.
	dir := t.TempDir()
	if r := runPgsnap(t, nil, "--dir", dir, "list", "--retention", "3"); r.code != 0 {
		t.Errorf("settings as flags: exit %d", r.code)
	}
}
