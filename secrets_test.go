package pgsnap_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// T30: passwords full of URL and passfile metacharacters work, and never show in any process's
// argv (sampled while pg_dump runs), in logs at debug level, in errors, or in files.
func TestPasswordTorture(t *testing.T) {
	invariants.Fault(t, "T30")
	passwords := []string{
		`s3cr@t:/p%w#?&=x`,
		`co:lon\back\\slash`,
		`with space 'single' "double"`,
		`pässwörd漢字`,
		strings.Repeat("Zq7:", 32),
	}
	f := newFixture(t, "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 20000) g")
	slow := throttledAddr(t, f)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // pgsnap's temporary files, if any, land here and are searched
	var probes, hits int
	for i, pw := range passwords {
		t.Run(fmt.Sprintf("password%d", i), func(t *testing.T) {
			role := fmt.Sprintf("%s_r%d", f.db, i)
			sql := fmt.Sprintf("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'", role, strings.ReplaceAll(pw, "'", "''"))
			if err := f.c.Exec(t.Context(), "postgres", sql); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.c.Exec(context.Background(), "postgres", "DROP ROLE IF EXISTS "+role) })
			userinfo := url.UserPassword(role, pw).String()
			u := fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", userinfo, slow, f.db)
			secrets := []string{pw, url.QueryEscape(pw), url.PathEscape(pw), strings.TrimPrefix(userinfo, role+":")}

			stop := sampleArgv(t, secrets, &probes, &hits)
			cfg := f.config(u)
			cfg.Target = fmt.Sprintf("pw%d", i)
			snap, err := f.scheduler(t, cfg).SnapshotNow(t.Context())
			stop()
			if err != nil {
				t.Fatalf("SnapshotNow with password %d: %v", i, err)
			}
			if snap.Size == 0 {
				t.Error("empty snapshot")
			}
			// Failures must not show it either.
			bad := cfg
			bad.DatabaseURL = pgsnap.ConnString(strings.Replace(u, slow, "127.0.0.1:1", 1))
			if _, err := f.scheduler(t, bad).SnapshotNow(t.Context()); err == nil {
				t.Error("snapshot through a closed port succeeded")
			} else {
				assertNoSecret(t, "error", err.Error(), secrets)
			}
			assertNoSecret(t, "log", f.logBuf.String(), secrets)
			invariants.AssertStoreInvariants(t, f.dir, invariants.Options{Cluster: f.c, Secrets: secrets, TempDir: tmp})
		})
	}
	invariants.Report(t, "T30 passwords: %d/%d work; argv leak hits %d of %d probes", len(passwords), len(passwords), hits, probes)
}

func throttledAddr(t *testing.T, f *fixture) string {
	t.Helper()
	return pgtest.Throttle(t, f.c.Addr(), 512<<10)
}

func assertNoSecret(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("the password shows in the %s", what)
		}
	}
}

// sampleArgv reads every process's command line every 20 ms until stop is called, and fails
// the test when one holds a secret.
func sampleArgv(t *testing.T, secrets []string, probes, hits *int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range files {
				b, err := os.ReadFile(p)
				if err != nil || len(b) == 0 {
					continue
				}
				mu.Lock()
				*probes++
				for _, s := range secrets {
					if strings.Contains(string(b), s) {
						*hits++
						t.Errorf("a password shows in %s: %q", p, strings.ReplaceAll(string(b), "\x00", " "))
					}
				}
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
