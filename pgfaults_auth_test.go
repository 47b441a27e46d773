package pgsnap_test

import (
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// T10: a wrong password, a role without SELECT on one table, a database that does not exist and
// a pg_hba.conf reject each fail with a message naming the cause, a reason label of their own
// and no password anywhere; retries follow the backoff (a 1 s step: at most 3 attempts in 2 s).
func TestAuthPrivilegeDatabaseHBAFailures(t *testing.T) {
	invariants.Fault(t, "T10")
	c := pgtest.StartOwn(t)
	ctx := t.Context()
	const db = "app"
	if err := c.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	appPW, hbaPW, wrongPW := rand.Text(), rand.Text(), rand.Text()
	setup := `CREATE TABLE open_rows AS SELECT g FROM generate_series(1, 100) g;
		CREATE TABLE secret_rows AS SELECT g FROM generate_series(1, 100) g;
		CREATE ROLE app_user LOGIN PASSWORD '` + appPW + `';
		CREATE ROLE hba_user LOGIN PASSWORD '` + hbaPW + `';
		GRANT SELECT ON open_rows TO app_user;
		GRANT SELECT ON open_rows, secret_rows TO hba_user`
	if err := c.Exec(ctx, db, setup); err != nil {
		t.Fatal(err)
	}
	hba := filepath.Join(c.DataDir, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	// WriteFile keeps the owner (the server's user) of the existing file.
	if err := os.WriteFile(hba, append([]byte("host all hba_user 127.0.0.1/32 reject\n"), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "postgres", "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the postmaster rereads pg_hba.conf on SIGHUP

	cases := []struct {
		name, url, reason string
		mentions          []string
	}{
		{"wrong password", userURL(c, "app_user", wrongPW, db), "auth",
			[]string{"authentication failed for user app_user on " + c.Addr(), "DATABASE_URL"}},
		{"no SELECT on a table", userURL(c, "app_user", appPW, db), "permission",
			[]string{"permission denied for table secret_rows", "app_user", "SNAPSHOT_PG_DUMP_EXCLUDE_TABLES"}},
		{"missing database", userURL(c, "app_user", appPW, "no_such_db"), "no_database",
			[]string{"database no_such_db does not exist on " + c.Addr()}},
		{"pg_hba reject", userURL(c, "hba_user", hbaPW, db), "pg_hba",
			[]string{"does not let user hba_user connect to database app", "pg_hba.conf", c.Addr()}},
	}
	secrets := []string{appPW, hbaPW, wrongPW, c.Password}
	clock, slot := slotSoon(startLead)
	step := time.Second
	targets := make([]*ownTarget, len(cases))
	for i, tc := range cases {
		targets[i] = newOwnTarget(t, tc.url, func(cfg *pgsnap.Config) { cfg.Target = strings.ReplaceAll(tc.name, " ", "-") },
			pgsnap.WithClock(clock.now), pgsnap.WithBackoff(func(int) time.Duration { return step }))
	}
	// All four run side by side for 2 s of the slot.
	slotAt := setClock(clock, slot.Add(-startLead))(slot)
	var stops []func()
	for _, ot := range targets {
		stops = append(stops, ot.run(t))
	}
	time.Sleep(time.Until(slotAt.Add(2 * time.Second)))
	for _, stop := range stops {
		stop()
	}

	messages, reasons := map[string]string{}, map[string]string{}
	named, leaks, maxAttempts := 0, 0, int64(0)
	for i, tc := range cases {
		ot := targets[i]
		st := ot.s.Stats()
		maxAttempts = max(maxAttempts, st.Attempts)
		// A failure at connect takes milliseconds: its retry comes after 1 s. pg_dump's may take
		// longer on a loaded machine.
		least := int64(2)
		if tc.reason == "permission" {
			least = 1
		}
		if st.Attempts < least || st.Attempts > 3 {
			t.Errorf("%s: %d attempts in 2 s with a %v backoff, want %d to 3", tc.name, st.Attempts, step, least)
		}
		if st.Failures[tc.reason] != st.Attempts || st.SnapshotsCommitted != 0 {
			t.Errorf("%s: failures by reason %v of %d attempts, want all %q", tc.name, st.Failures, st.Attempts, tc.reason)
		}
		ok := true
		for _, m := range tc.mentions {
			if !strings.Contains(st.LastError, m) {
				t.Errorf("%s: error %q does not name %q", tc.name, st.LastError, m)
				ok = false
			}
		}
		if ok {
			named++
		}
		messages[firstClause(st.LastError)] = tc.name
		reasons[tc.reason] = tc.name
		// /readyz says why, cause first.
		code, body := get(t, ot.srv, "/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, tc.mentions[0]) {
			t.Errorf("%s: /readyz = %d %q, want 503 naming %q", tc.name, code, body, tc.mentions[0])
		}
		_, metrics := get(t, ot.srv, "/metrics")
		if want := `pgsnap_failures_total{reason="` + tc.reason + `",target=`; !strings.Contains(metrics, want) {
			t.Errorf("%s: /metrics lacks %s", tc.name, want)
		}
		_, status := get(t, ot.srv, "/status.json")
		_, page := get(t, ot.srv, "/")
		for _, out := range []string{ot.log.String(), st.LastError, metrics, status, page, body} {
			for _, pw := range secrets {
				if strings.Contains(out, pw) {
					leaks++
					t.Errorf("%s: a password appears in the output: %.300s", tc.name, out)
				}
			}
		}
		if n := countLines(ot.log.String(), "retry_in=1s"); n != int(st.Attempts) {
			t.Errorf("%s: %d failed attempts logged with their 1 s retry delay, want %d", tc.name, n, st.Attempts)
		}
		invariants.AssertStoreInvariants(t, ot.dir, invariants.Options{Cluster: c, Secrets: secrets})
	}
	if len(messages) != len(cases) || len(reasons) != len(cases) {
		t.Errorf("messages %v, reasons %v: want %d distinct of each", messages, reasons, len(cases))
	}
	invariants.Report(t, "T10 auth/privilege/database/pg_hba: messages name cause %d/%d, distinct reasons %d, password leaks %d, max attempts in 2 s %d (backoff %v)",
		named, len(cases), len(reasons), leaks, maxAttempts, step)
}

// firstClause is an error's text up to its first colon: the cause it names first.
func firstClause(s string) string {
	before, _, _ := strings.Cut(s, ":")
	return before
}
