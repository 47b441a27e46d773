package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// roles lists a cluster's roles (but the bootstrap superuser) with their attributes and
// password hashes, and the owner of every table of db.
func roles(t *testing.T, c *pgtest.Cluster) []string {
	t.Helper()
	conn, err := c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT rolname || ' login=' || rolcanlogin || ' createdb=' || rolcreatedb || ' pw=' || coalesce(rolpassword, '')
		FROM pg_authid WHERE rolname NOT LIKE 'pg\_%' AND rolname <> current_user ORDER BY rolname`)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// A configuration file with three targets on one server and all_databases on a second takes
// every database, with the second server's globals; restore --with-globals into a fresh
// cluster gives the same roles (password hashes included) and the same data, owners kept.
func TestFleetWithGlobalsRestoresIntoFreshCluster(t *testing.T) {
	invariants.Fault(t, "T36")
	one := pgtest.Get(t)
	two := pgtest.StartOwn(t)
	var dbsOne []string
	for i := range 3 {
		db := one.CreateDB(t)
		if err := one.Exec(t.Context(), db, fmt.Sprintf("CREATE TABLE t AS SELECT g FROM generate_series(1, %d) g", 100+i)); err != nil {
			t.Fatal(err)
		}
		dbsOne = append(dbsOne, db)
	}
	for _, sql := range []string{
		"CREATE ROLE app_owner LOGIN CREATEDB PASSWORD 'owner-pw'",
		"CREATE ROLE app_reader LOGIN PASSWORD 'reader-pw'",
		"CREATE DATABASE sales OWNER app_owner",
		"CREATE DATABASE hr OWNER app_owner",
		"CREATE DATABASE scratch_tmp",
	} {
		if err := two.Exec(t.Context(), "postgres", sql); err != nil {
			t.Fatal(err)
		}
	}
	for _, db := range []string{"sales", "hr"} {
		if err := two.Exec(t.Context(), db, `SET ROLE app_owner; CREATE TABLE items (id int PRIMARY KEY, name text);
			INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g; GRANT SELECT ON items TO app_reader`); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "settings:\n  SNAPSHOT_DIR: %s\n  SNAPSHOT_SCHEDULE: \"@daily\"\n  SNAPSHOT_HTTP_ADDR: \"off\"\nmax_concurrent: 2\ntargets:\n", dir)
	for i, db := range dbsOne {
		fmt.Fprintf(&cfg, "  - name: one%d\n    database_url: %q\n", i, one.URL(db))
	}
	fmt.Fprintf(&cfg, "servers:\n  - name: two\n    url: %q\n    all_databases: true\n    exclude: [\"postgres\", \"scratch_*\"]\n", two.URL("postgres"))
	file := filepath.Join(t.TempDir(), "pgsnap.yaml")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	// The newest @daily slot is inside the default catch-up window: every target takes it at
	// start-up.
	cmd, _, stderr := pgsnapCmd(t, nil, "run", "--config", file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := []string{"one0", "one1", "one2", "two.globals", "two.hr", "two.sales"}
	var got []string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		got = listedTargets(t, dir)
		if len(got) >= len(want) {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code, _ := waitExit(t, cmd, time.Now(), shutdownLimit); code != 0 {
		t.Errorf("run --config after SIGTERM: exit %d", code)
	}
	if !cmp.Equal(want, got) {
		t.Fatalf("targets snapshotted = %v, want %v\n%s", got, want, stderr)
	}
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: one, MinComplete: len(want)})
	globals, _ := filepath.Glob(filepath.Join(dir, "two.globals-*.sql.zst"))
	if len(globals) != 1 {
		t.Fatalf("globals objects = %v, want one", globals)
	}

	fresh := pgtest.StartOwn(t)
	env := map[string]string{"SNAPSHOT_CONFIG": file, "SNAPSHOT_TARGET": "two.sales", "SNAPSHOT_RESTORE_URL": fresh.URL("sales")}
	if r := runPgsnap(t, env, "restore", "--latest", "--with-globals"); r.code != 0 {
		t.Fatalf("restore --with-globals into a fresh cluster: exit %d", r.code)
	}
	if diff := cmp.Diff(roles(t, two), roles(t, fresh)); diff != "" {
		t.Errorf("roles in the fresh cluster differ (-source +fresh):\n%s", diff)
	}
	if diff := cmp.Diff(two.FingerprintDB(t, "sales"), fresh.FingerprintDB(t, "sales")); diff != "" {
		t.Errorf("restored data differs (-source +fresh):\n%s", diff)
	}
	conn, err := fresh.Connect(t.Context(), "sales")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var owner string
	var canRead bool
	conn.QueryRow(t.Context(), "SELECT tableowner, has_table_privilege('app_reader', 'items', 'SELECT') FROM pg_tables WHERE tablename = 'items'").Scan(&owner, &canRead)
	if owner != "app_owner" || !canRead {
		t.Errorf("items owned by %q, app_reader may read: %v; want app_owner and true", owner, canRead)
	}
}

// listedTargets returns the sorted targets that have a snapshot in dir.
func listedTargets(t *testing.T, dir string) []string {
	t.Helper()
	seen := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasSuffix(base, ".drill.json") {
			continue
		}
		if i := strings.LastIndexByte(base, '-'); i > 0 {
			seen[base[:i]] = true
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
