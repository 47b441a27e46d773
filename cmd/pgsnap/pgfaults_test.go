package main

import (
	"context"
	"crypto/rand"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// T10 through the command line: `pgsnap snapshot` with a wrong password, as a role without
// SELECT on one table, and of a database that does not exist exits 1 with an error that names
// the cause first, and prints no password, also at debug level and in JSON logs. (The
// pg_hba.conf reject, which edits the server's configuration, is in the root package's T10 on a
// cluster of its own.)
func TestSnapshotFailuresNameTheirCause(t *testing.T) {
	invariants.Fault(t, "T10")
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	user := "t10_" + strings.ToLower(rand.Text()[:8])
	pw, wrong := rand.Text(), rand.Text()
	if err := c.Exec(t.Context(), db, `CREATE TABLE open_rows AS SELECT g FROM generate_series(1, 10) g;
		CREATE TABLE secret_rows AS SELECT g FROM generate_series(1, 10) g;
		CREATE ROLE `+user+` LOGIN PASSWORD '`+pw+`';
		GRANT SELECT ON open_rows TO `+user); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Exec(ctx, db, "DROP OWNED BY "+user+"; DROP ROLE "+user); err != nil {
			t.Error(err)
		}
	})
	dsn := func(password, database string) string {
		u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: c.Addr(), Path: "/" + database, RawQuery: "sslmode=disable"}
		return u.String()
	}
	cases := []struct {
		name, url, cause string
	}{
		{"wrong password", dsn(wrong, db), "authentication failed for user " + user + " on " + c.Addr() + " (DATABASE_URL)"},
		{"no SELECT", dsn(pw, db), "permission denied for table secret_rows (user " + user},
		{"missing database", dsn(pw, db+"_missing"), "database " + db + "_missing does not exist on " + c.Addr()},
	}
	named, leaks := 0, 0
	for _, tc := range cases {
		for _, format := range []string{"text", "json"} {
			dir := filepath.Join(t.TempDir(), "snapshots")
			r := runPgsnap(t, map[string]string{"DATABASE_URL": tc.url, "SNAPSHOT_DIR": dir,
				"SNAPSHOT_LOG_LEVEL": "debug", "SNAPSHOT_LOG_FORMAT": format}, "snapshot")
			if r.code != exitFailure {
				t.Errorf("%s (%s logs): exit %d, want %d", tc.name, format, r.code, exitFailure)
			}
			if strings.Contains(r.stderr, "pgsnap: "+tc.cause) {
				named++
			} else {
				t.Errorf("%s (%s logs): stderr does not name the cause %q", tc.name, format, tc.cause)
			}
			for _, secret := range []string{pw, wrong, c.Password} {
				if strings.Contains(r.stdout+r.stderr, secret) {
					leaks++
					t.Errorf("%s (%s logs): a password is in the output", tc.name, format)
				}
			}
			invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, Database: db})
		}
	}
	invariants.Report(t, "T10 CLI: messages name cause %d/%d, password leaks %d", named, 2*len(cases), leaks)
}
