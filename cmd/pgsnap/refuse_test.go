package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Item 1: an sslpassword is refused in every connection setting, before anything is read,
// created or connected: exit 2, the setting named, the value never printed.
func TestSSLPasswordRefusedEverywhere(t *testing.T) {
	addr, conns := connCounter(t)
	const secret = "ssl-passphrase-XyZ"
	url := "postgres://app:pw@" + addr + "/app?sslpassword=" + secret
	plain := "postgres://app@" + addr + "/app"
	dir := filepath.Join(t.TempDir(), "never-created")
	tmp := t.TempDir()
	urlFile := filepath.Join(tmp, "url")
	if err := os.WriteFile(urlFile, []byte(url), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := func(body string) string {
		p := filepath.Join(tmp, strings.Fields(body)[0]+".yaml")
		if err := os.WriteFile(p, []byte("settings: {SNAPSHOT_DIR: "+dir+"}\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, setting string
		env           map[string]string
		args          []string
	}{
		{"DATABASE_URL", "DATABASE_URL", map[string]string{"DATABASE_URL": url}, []string{"list"}},
		{"--database-url", "DATABASE_URL", nil, []string{"snapshot", "--database-url", url}},
		{"DATABASE_URL_FILE", "DATABASE_URL_FILE", map[string]string{"DATABASE_URL_FILE": urlFile}, []string{"snapshot"}},
		{"SNAPSHOT_RESTORE_URL", "SNAPSHOT_RESTORE_URL", map[string]string{"DATABASE_URL": plain, "SNAPSHOT_RESTORE_URL": url}, []string{"restore", "--latest"}},
		{"--target-url", "--target-url", map[string]string{"DATABASE_URL": plain}, []string{"restore", "--latest", "--target-url", url}},
		{"SNAPSHOT_DRILL_URL", "SNAPSHOT_DRILL_URL", map[string]string{"DATABASE_URL": plain, "SNAPSHOT_DRILL_URL": url}, []string{"verify", "--drill"}},
		{"--drill-url", "SNAPSHOT_DRILL_URL", map[string]string{"DATABASE_URL": plain}, []string{"run", "--drill-url", url}},
		{"yaml target", "DATABASE_URL", map[string]string{"SNAPSHOT_CONFIG": yaml("targets:\n  - name: app\n    database_url: " + url + "\n")}, []string{"run"}},
		{"yaml server", "DATABASE_URL", map[string]string{"SNAPSHOT_CONFIG": yaml("servers:\n  - name: db2\n    url: " + url + "\n    all_databases: true\n")}, []string{"list"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"SNAPSHOT_DIR": dir}
			for k, v := range tc.env {
				env[k] = v
			}
			r := runPgsnap(t, env, tc.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if !strings.Contains(r.stderr, tc.setting) || !strings.Contains(r.stderr, "sslpassword is not supported") {
				t.Errorf("stderr does not name %s and the sslpassword:\n%s", tc.setting, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("the sslpassword shows in the output")
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections to the server, want 0", n)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("SNAPSHOT_DIR was created: %v", err)
	}
	t.Logf("sslpassword: %d settings refused with exit 2; connections %d; directories created 0", len(cases), conns.Load())
}

// A password in any flag that holds a connection string is warned about: command lines are
// visible to every user of the machine.
func TestPasswordInAnyURLFlagWarns(t *testing.T) {
	dir := t.TempDir()
	for flag, env := range map[string]string{"--database-url": "DATABASE_URL", "--drill-url": "SNAPSHOT_DRILL_URL"} {
		r := runPgsnap(t, map[string]string{"SNAPSHOT_DIR": dir}, "list", flag, "postgres://app:pw-on-argv@db/app")
		if r.code != 0 || !strings.Contains(r.stderr, "password in "+flag+" is visible to other users") || !strings.Contains(r.stderr, env) {
			t.Errorf("list %s with a password: exit %d, stderr %q; want 0 and a warning naming %s", flag, r.code, r.stderr, env)
		}
		if strings.Contains(r.stderr, "pw-on-argv") {
			t.Errorf("the warning repeats the password")
		}
	}
	r := runPgsnap(t, map[string]string{"SNAPSHOT_DIR": dir}, "list", "--drill-url", "postgres://app@db/app")
	if strings.Contains(r.stderr, "visible to other users") {
		t.Errorf("a URL without password warned: %s", r.stderr)
	}
}

// Items 3 and 4: bad arguments and settings exit 2 before anything is touched: no directory
// created, nothing connected, no piece of a password printed.
func TestBadArgumentsExitTwoBeforeTouchingAnything(t *testing.T) {
	addr, conns := connCounter(t)
	dir := filepath.Join(t.TempDir(), "never-created")
	host, port, _ := strings.Cut(addr, ":")
	cases := []struct {
		name, want string
		env        map[string]string
		args       []string
	}{
		{"unknown command", "unknown command", nil, []string{"snapshots"}},
		{"unknown sslmode", "sslmode", map[string]string{"DATABASE_URL": "postgres://app@" + addr + "/app?sslmode=bogus"}, []string{"snapshot"}},
		{"unknown URL parameter", "DATABASE_URL", map[string]string{"DATABASE_URL": "postgres://app@" + addr + "/app?frobnicate=1"}, []string{"snapshot"}},
		{"unknown keyword", "DATABASE_URL", map[string]string{"DATABASE_URL": "host=" + host + " port=" + port + " dbname=app frobnicate=1"}, []string{"run"}},
		{"kv without user or dbname", "SNAPSHOT_TARGET", map[string]string{"DATABASE_URL": "host=" + host + " port=" + port}, []string{"snapshot"}},
		{"kv without user or dbname, run", "DATABASE_URL", map[string]string{"DATABASE_URL": "host=" + host + " port=" + port}, []string{"run"}},
		{"http user alone", "SNAPSHOT_HTTP_PASSWORD", map[string]string{"DATABASE_URL": "postgres://app@" + addr + "/app", "SNAPSHOT_HTTP_USER": "admin"}, []string{"run"}},
		{"http password alone", "SNAPSHOT_HTTP_USER", map[string]string{"DATABASE_URL": "postgres://app@" + addr + "/app", "SNAPSHOT_HTTP_PASSWORD": "Zq9pw"}, []string{"snapshot"}},
		{"malformed user info", "percent-encode", map[string]string{"DATABASE_URL": "postgres://app:Zq9#t p@ss/w:rdX@" + addr + "/app"}, []string{"snapshot"}},
		{"malformed restore URL", "SNAPSHOT_RESTORE_URL", map[string]string{"SNAPSHOT_RESTORE_URL": "postgres://app:Zq9#t p@ss/w:rdX@" + addr + "/app"}, []string{"restore", "--latest"}},
		{"unknown sslmode in --target-url", "--target-url", nil, []string{"restore", "x-20261124T030000Z", "--target-url", "postgres://app@" + addr + "/app?sslmode=bogus"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"SNAPSHOT_DIR": dir}
			for k, v := range tc.env {
				env[k] = v
			}
			r := runPgsnap(t, env, tc.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, r.stderr)
			}
			for _, piece := range []string{"Zq9", "rdX", "-2026"} {
				if strings.Contains(r.stdout+r.stderr, piece) {
					t.Errorf("output shows %q", piece)
				}
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections to the server, want 0", n)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("SNAPSHOT_DIR was created: %v", err)
	}
	t.Logf("bad arguments: %d cases exit 2; connections %d; directories created 0", len(cases), conns.Load())
}

// Item 13: an S3 endpoint that does not answer fails the start-up check within seconds, the
// endpoint and the error named once, instead of spending the retry budget meant for outages in
// the middle of an upload (39 s before).
func TestS3UnreachableAtStartFailsSoon(t *testing.T) {
	endpoint := freeAddr(t) // nothing listens there
	env := map[string]string{
		"DATABASE_URL": "postgres://app@" + freeAddr(t) + "/app", "SNAPSHOT_S3_URL": "s3://backups/app",
		"SNAPSHOT_S3_ENDPOINT": "http://" + endpoint, "SNAPSHOT_S3_REGION": "us-east-1", "SNAPSHOT_S3_FORCE_PATH_STYLE": "true",
		"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret-key-never-shown",
	}
	start := time.Now()
	r := runPgsnap(t, env, "run")
	took := time.Since(start)
	if r.code != 1 {
		t.Errorf("run with S3 unreachable: exit %d, want 1", r.code)
	}
	last := lastLine(r.stderr)
	if !strings.Contains(last, "endpoint unreachable") || !strings.Contains(last, endpoint) || strings.Count(last, "SNAPSHOT_S3_URL") != 1 {
		t.Errorf("error %q, want the endpoint, unreachable, and SNAPSHOT_S3_URL once", last)
	}
	if strings.Contains(r.stderr, "secret-key-never-shown") {
		t.Errorf("the secret key shows")
	}
	// A bound, not a speed: the check gives up after 8 s of retries; 39 s before.
	if took > 25*time.Second {
		t.Errorf("run took %v to report the unreachable endpoint", took)
	}
	t.Logf("S3 unreachable at start: exit %d after %v", r.code, took.Round(100*time.Millisecond))
}
