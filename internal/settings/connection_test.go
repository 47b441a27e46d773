package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sslSecret = "ssl-key-passphrase-1"

// An sslpassword could only reach a client program on its command line: every connection
// setting refuses it when loaded, naming the setting and never the value.
func TestSSLPasswordRefusedInEveryConnectionSetting(t *testing.T) {
	url := "postgres://app:pw@db/app?sslmode=verify-full&sslpassword=" + sslSecret
	file := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(file, []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kv := "host=db dbname=app sslpassword='" + sslSecret + "'"
	for name, env := range map[string]map[string]string{
		"DATABASE_URL":          {"DATABASE_URL": url},
		"DATABASE_URL kv":       {"DATABASE_URL": kv},
		"DATABASE_URL_FILE":     {"DATABASE_URL_FILE": file},
		"SNAPSHOT_DRILL_URL":    {"SNAPSHOT_DRILL_URL": url},
		"SNAPSHOT_DRILL_URL kv": {"SNAPSHOT_DRILL_URL": kv},
	} {
		_, err := Load(mapLookup(env))
		setting := strings.Fields(name)[0]
		if err == nil || !strings.Contains(err.Error(), setting) || !strings.Contains(err.Error(), "sslpassword is not supported") {
			t.Errorf("%s: Load() = %v, want an error naming %s and sslpassword", name, err, setting)
		} else if strings.Contains(err.Error(), sslSecret) {
			t.Errorf("%s: the error shows the sslpassword: %v", name, err)
		}
	}
	// A Config built in code is checked the same way.
	for _, cfg := range []Config{
		func() Config { c := Default(); c.DatabaseURL = ConnString(url); return c }(),
		func() Config { c := Default(); c.DrillURL = ConnString(url); return c }(),
	} {
		if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), sslSecret) {
			t.Errorf("Validate() = %v, want the sslpassword refused without showing it", err)
		}
	}
	if err := ConnString(url).Check(); err == nil {
		t.Errorf("ConnString.Check() accepts an sslpassword")
	}
}

func TestFleetRefusesSSLPassword(t *testing.T) {
	url := "postgres://app:pw@db/app?sslpassword=" + sslSecret
	for name, yaml := range map[string]string{
		"target": "targets:\n  - name: app\n    database_url: " + url + "\n",
		"server": "servers:\n  - name: db2\n    url: " + url + "\n    all_databases: true\n",
	} {
		path := filepath.Join(t.TempDir(), "pgsnap.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFleet(path, mapLookup(nil))
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), "sslpassword") ||
			strings.Contains(err.Error(), sslSecret) {
			t.Errorf("%s: LoadFleet() = %v, want the sslpassword refused, named, not shown", name, err)
		}
	}
}

// A target's name comes from the connection string's database (or user); one that names
// neither fails when loaded, not later as a snapshot named "-2026…".
func TestTargetNameDerivedAtLoad(t *testing.T) {
	for dsn, want := range map[string]string{
		"host=db port=5432 dbname=shop": "shop",
		"host=db user=bob":              "bob",
		"postgres://db/billing":         "billing",
	} {
		cfg, err := Load(mapLookup(map[string]string{"DATABASE_URL": dsn}))
		if err != nil {
			t.Errorf("Load(DATABASE_URL=%q) = %v", dsn, err)
			continue
		}
		if got, _ := cfg.TargetName(); got != want {
			t.Errorf("DATABASE_URL=%q: target %q, want %q", dsn, got, want)
		}
	}
	for _, dsn := range []string{"host=db port=5432", "postgres://db:5432/", "postgres://:secretpw@db/"} {
		_, err := Load(mapLookup(map[string]string{"DATABASE_URL": dsn}))
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), "SNAPSHOT_TARGET") {
			t.Errorf("Load(DATABASE_URL=%q) = %v, want an error naming DATABASE_URL and SNAPSHOT_TARGET", dsn, err)
		} else if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("the error shows the password: %v", err)
		}
		if _, err := Load(mapLookup(map[string]string{"DATABASE_URL": dsn, "SNAPSHOT_TARGET": "app"})); err != nil {
			t.Errorf("Load(DATABASE_URL=%q, SNAPSHOT_TARGET=app) = %v", dsn, err)
		}
	}
	// A server's url names a server, not a target: its databases are named when listed.
	path := filepath.Join(t.TempDir(), "pgsnap.yaml")
	if err := os.WriteFile(path, []byte("servers:\n  - name: db2\n    url: host=db2 port=5432\n    all_databases: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFleet(path, mapLookup(nil)); err != nil {
		t.Errorf("a server url without a database: LoadFleet() = %v", err)
	}
}

func TestHTTPBasicAuthNeedsBothHalves(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"user alone":     {map[string]string{"SNAPSHOT_HTTP_USER": "admin"}, "SNAPSHOT_HTTP_PASSWORD"},
		"password alone": {map[string]string{"SNAPSHOT_HTTP_PASSWORD": "hunter2"}, "SNAPSHOT_HTTP_USER"},
		"colon in user":  {map[string]string{"SNAPSHOT_HTTP_USER": "a:b", "SNAPSHOT_HTTP_PASSWORD": "hunter2"}, "SNAPSHOT_HTTP_USER"},
	} {
		_, err := Load(mapLookup(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: Load() = %v, want an error naming %s without the password", name, err, tc.want)
		}
	}
	for _, env := range []map[string]string{
		{"SNAPSHOT_HTTP_USER": "admin", "SNAPSHOT_HTTP_PASSWORD": "hunter2"},
		{"SNAPSHOT_HTTP_TOKEN": "t0ken"},
	} {
		if _, err := Load(mapLookup(env)); err != nil {
			t.Errorf("Load(%v) = %v", env, err)
		}
	}
}

func TestS3PlainHTTPWarning(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		warn bool
	}{
		{map[string]string{"SNAPSHOT_S3_ENDPOINT": "minio.internal:9000", "SNAPSHOT_S3_INSECURE": "true"}, true},
		{map[string]string{"SNAPSHOT_S3_ENDPOINT": "http://10.0.0.5:9000"}, true},
		{map[string]string{"SNAPSHOT_S3_INSECURE": "true"}, true}, // AWS itself, in plain HTTP
		{map[string]string{"SNAPSHOT_S3_ENDPOINT": "127.0.0.1:9000", "SNAPSHOT_S3_INSECURE": "true"}, false},
		{map[string]string{"SNAPSHOT_S3_ENDPOINT": "http://localhost:9000"}, false},
		{map[string]string{"SNAPSHOT_S3_ENDPOINT": "[::1]:9000", "SNAPSHOT_S3_INSECURE": "true"}, false},
		{map[string]string{"SNAPSHOT_S3_ENDPOINT": "minio.internal:9000"}, false},
	} {
		tc.env["SNAPSHOT_S3_URL"] = "s3://backups/app"
		cfg, err := Load(mapLookup(tc.env))
		if err != nil {
			t.Fatalf("Load(%v) = %v", tc.env, err)
		}
		w := cfg.Warnings()
		if got := len(w) == 1 && strings.Contains(w[0], "plain HTTP"); got != tc.warn {
			t.Errorf("%v: warnings %q, want a plain-HTTP warning: %t", tc.env, w, tc.warn)
		}
	}
}
