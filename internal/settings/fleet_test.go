package settings

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgsnap/pgsnap/schedule"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pgsnap.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFleetConfig(t *testing.T) {
	path := writeFile(t, `
settings:
  SNAPSHOT_TIME: "04:00"
  SNAPSHOT_RETENTION: 5
  SNAPSHOT_DIR: /file
max_concurrent: 3
targets:
  - name: a
    database_url: postgres://u:pw@db1/a
    settings: {SNAPSHOT_SCHEDULE: "0 * * * *", SNAPSHOT_RETENTION: 9}
    pg_dump: {schemas: [public, sales], exclude_tables: [public.log]}
  - name: b
    database_url: postgres://u:pw@db1/b
servers:
  - name: db2
    url: postgres://u:pw@db2/postgres
    all_databases: true
    exclude: ["template*"]
`)
	env := map[string]string{"SNAPSHOT_DIR": "/env", "SNAPSHOT_KEEP_DAILY": "7"}
	fc, err := LoadFleet(path, mapLookup(env))
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.Targets) != 2 || len(fc.Servers) != 1 || fc.MaxConcurrent != 3 {
		t.Fatalf("LoadFleetConfig = %d targets, %d servers, max %d; want 2, 1, 3", len(fc.Targets), len(fc.Servers), fc.MaxConcurrent)
	}
	a, b := fc.Targets[0], fc.Targets[1]
	if _, ok := a.Schedule.(schedule.Cron); !ok || a.Retention != 9 {
		t.Errorf("target a: schedule %v retention %d; want its own cron schedule (replacing the file's time) and 9", a.Schedule, a.Retention)
	}
	if d, ok := b.Schedule.(schedule.Daily); !ok || d.Hour != 4 || b.Retention != 5 {
		t.Errorf("target b: schedule %v retention %d; want the file's 04:00 and 5", b.Schedule, b.Retention)
	}
	if a.Dir != "/env" || b.KeepDaily != 7 {
		t.Errorf("environment over file: dir %q keep daily %d; want /env and 7", a.Dir, b.KeepDaily)
	}
	if got := a.DumpArgs(); !slices.Equal(got, []string{"--schema=public", "--schema=sales", "--exclude-table=public.log"}) {
		t.Errorf("target a pg_dump args = %v", got)
	}
	if srv := fc.Servers[0]; srv.Name != "db2" || !srv.Globals || !slices.Equal(srv.Exclude, []string{"template*"}) {
		t.Errorf("server = %+v, want db2 with globals and its exclude patterns", srv)
	}
}

func TestLoadFleetConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown key", "targets: []\nretention: 3\n", "field retention not found"},
		{"unknown setting", "settings: {SNAPSHOT_RETENTON: 3}\ntargets: [{name: a, database_url: 'postgres://h/a'}]\n", "SNAPSHOT_RETENTON is not a setting"},
		{"bad value", "targets: [{name: a, database_url: 'postgres://h/a', settings: {SNAPSHOT_RETENTION: 0}}]\n", "targets[0] (a): SNAPSHOT_RETENTION=\"0\""},
		{"no name", "targets: [{database_url: 'postgres://h/a'}]\n", "targets[0] (): name: required"},
		{"no url", "targets: [{name: a}]\n", "database_url: required"},
		{"twice", "targets: [{name: a, database_url: 'postgres://h/a'}, {name: a, database_url: 'postgres://h/b'}]\n", "name used by another target"},
		{"empty", "settings: {}\n", "no target and no server"},
		{"server without all_databases", "servers: [{name: s, url: 'postgres://h/postgres'}]\n", "all_databases: only true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFleet(writeFile(t, tc.text), mapLookup(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadFleetConfig = %v, want an error containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("error shows a password: %v", err)
			}
		})
	}
}
