package pgsnap

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pgsnap/pgsnap/schedule"
)

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(mapLookup(nil))
	if err != nil {
		t.Fatalf("LoadConfig(empty) = %v", err)
	}
	want := Config{
		Schedule: schedule.Daily{Hour: 3}, Retention: 7, Dir: "/snapshots",
		Timeout: 6 * time.Hour, LockWaitTimeout: 5 * time.Minute, Verify: VerifyQuick, DrillSchedule: DrillOff,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadConfigValues(t *testing.T) {
	cfg, err := LoadConfig(mapLookup(map[string]string{
		"DATABASE_URL":               "postgres://app:pw@db:5432/app",
		"SNAPSHOT_ENABLED":           "YES",
		"SNAPSHOT_TIME":              "23:59",
		"SNAPSHOT_RETENTION":         "1000000",
		"SNAPSHOT_DIR":               "/var/lib/pgsnap",
		"SNAPSHOT_TIMEOUT":           "90m",
		"SNAPSHOT_LOCK_WAIT_TIMEOUT": "30s",
		"SNAPSHOT_PG_BIN_DIR":        "/opt/pg/bin",
		"SNAPSHOT_TARGET":            "app.prod-1",
		"SNAPSHOT_VERIFY":            "full",
		"SNAPSHOT_DRILL_SCHEDULE":    "weekly",
		"SNAPSHOT_DRILL_URL":         "postgres://drill:pw@scratch/postgres",
		"SNAPSHOT_TMPDIR":            "/var/tmp/pgsnap",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		DatabaseURL: "postgres://app:pw@db:5432/app", Enabled: true,
		Schedule: schedule.Daily{Hour: 23, Minute: 59}, Retention: 1000000, Dir: "/var/lib/pgsnap",
		Timeout: 90 * time.Minute, LockWaitTimeout: 30 * time.Second, PGBinDir: "/opt/pg/bin", Target: "app.prod-1",
		Verify: VerifyFull, DrillSchedule: DrillWeekly, DrillURL: "postgres://drill:pw@scratch/postgres", TempDir: "/var/tmp/pgsnap",
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestLoadConfigRejects(t *testing.T) {
	tests := []struct {
		env, value string
	}{
		// T19: retention
		{"SNAPSHOT_RETENTION", "0"}, {"SNAPSHOT_RETENTION", "-1"}, {"SNAPSHOT_RETENTION", "abc"},
		{"SNAPSHOT_RETENTION", "2.5"}, {"SNAPSHOT_RETENTION", "1e3"}, {"SNAPSHOT_RETENTION", "0x10"},
		{"SNAPSHOT_RETENTION", "+3"}, {"SNAPSHOT_RETENTION", " 3"}, {"SNAPSHOT_RETENTION", "3 "},
		{"SNAPSHOT_RETENTION", "99999999999999999999"}, {"SNAPSHOT_RETENTION", ""},
		// T23 (the parser's own table is in package schedule)
		{"SNAPSHOT_TIME", "24:00"}, {"SNAPSHOT_TIME", "7:05"}, {"SNAPSHOT_TIME", ""}, {"SNAPSHOT_TIME", "03:00Z"},
		// T32
		{"SNAPSHOT_ENABLED", "maybe"}, {"SNAPSHOT_ENABLED", ""},
		{"SNAPSHOT_TIMEOUT", "0"}, {"SNAPSHOT_TIMEOUT", "-5s"}, {"SNAPSHOT_TIMEOUT", "5"}, {"SNAPSHOT_TIMEOUT", "forever"},
		{"SNAPSHOT_LOCK_WAIT_TIMEOUT", "0s"}, {"SNAPSHOT_LOCK_WAIT_TIMEOUT", "soon"},
		{"SNAPSHOT_DIR", ""}, {"SNAPSHOT_DIR", "   "},
		{"SNAPSHOT_TARGET", "-app"}, {"SNAPSHOT_TARGET", "a/b"}, {"SNAPSHOT_TARGET", strings.Repeat("x", 64)},
		{"DATABASE_URL", "mysql://u:p@h/db"}, {"DATABASE_URL", "postgres://u:%zz@h/db"},
		{"DATABASE_URL", "postgres://u:p@h:99999/db"}, {"DATABASE_URL", "postgres://u@h/db?sslpassword=s3cret"},
		{"SNAPSHOT_VERIFY", "yes"}, {"SNAPSHOT_VERIFY", "QUICK"}, {"SNAPSHOT_DRILL_SCHEDULE", "hourly"},
		{"SNAPSHOT_DRILL_URL", "mysql://x@y/z"},
	}
	for _, tc := range tests {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			_, err := LoadConfig(mapLookup(map[string]string{tc.env: tc.value}))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("LoadConfig(%s=%q) = %v, want a *ConfigError", tc.env, tc.value, err)
			}
			if ce.Setting != tc.env || ce.Want == "" {
				t.Errorf("error names %q with accepted form %q, want %s and a form", ce.Setting, ce.Want, tc.env)
			}
			if !strings.Contains(err.Error(), tc.env) {
				t.Errorf("error %q does not name %s", err, tc.env)
			}
		})
	}
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	_, err := LoadConfig(mapLookup(map[string]string{
		"SNAPSHOT_RETENTION": "0",
		"SNAPSHOT_TIME":      "25:00",
		"SNAPSHOT_TIMEOUT":   "5",
		"SNAPSHOT_DIR":       "",
		"SNAPSHOT_ENABLED":   "maybe",
		"DATABASE_URL":       "mysql://root:hunter2@db/app",
	}))
	if err == nil {
		t.Fatal("LoadConfig = nil, want errors")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 6 {
		t.Errorf("got %d lines, want one per problem (6):\n%s", len(lines), err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %s", err)
	}
}

func TestEnabledNeedsDatabaseURL(t *testing.T) {
	_, err := LoadConfig(mapLookup(map[string]string{"SNAPSHOT_ENABLED": "true"}))
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Setting != "DATABASE_URL" {
		t.Fatalf("LoadConfig(enabled, no DATABASE_URL) = %v, want a DATABASE_URL error", err)
	}
	if _, err := LoadConfig(mapLookup(map[string]string{"SNAPSHOT_ENABLED": "false"})); err != nil {
		t.Errorf("LoadConfig(disabled, no DATABASE_URL) = %v, want nil", err)
	}
}

// tortuous passwords of RELIABILITY.md T30.
var tortuousPasswords = []string{
	`s3cr@t:/p%w#?&=x`,
	`co:lon\back\\slash`,
	`with space 'single' "double"`,
	`pässwörd漢字`,
	strings.Repeat("Ab9-", 32),
}

func TestConfigNeverShowsPassword(t *testing.T) {
	for _, pw := range tortuousPasswords {
		raw := "postgres://" + url.UserPassword("app", pw).String() + "@db.internal:5432/app"
		cfg, err := LoadConfig(mapLookup(map[string]string{"DATABASE_URL": raw}))
		if err != nil {
			t.Fatalf("LoadConfig(%s) = %v", cfg.DatabaseURL, err)
		}
		var logBuf strings.Builder
		slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "config", cfg, "url", cfg.DatabaseURL)
		j, _ := json.Marshal(cfg)
		forms := []string{
			fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
			//lint:ignore S1025 the fmt verb itself is under test
			fmt.Sprintf("%s", cfg),
			fmt.Sprintf("%v", &cfg), fmt.Sprintf("%v", cfg.DatabaseURL), fmt.Sprintf("%#v", cfg.DatabaseURL),
			fmt.Sprintf("%q", cfg.DatabaseURL), cfg.String(), string(j), logBuf.String(),
		}
		for _, f := range forms {
			for _, secret := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
				if strings.Contains(f, secret) {
					t.Errorf("password %q shows in %q", pw, f)
				}
			}
		}
		if !strings.Contains(cfg.String(), "db.internal") {
			t.Errorf("String() = %q, want the host still shown", cfg.String())
		}
	}
}

func TestKeywordValueDSN(t *testing.T) {
	cfg, err := LoadConfig(mapLookup(map[string]string{"DATABASE_URL": "host=db port=5432 dbname=shop user=app password='it''s \\'secret\\''"}))
	if err == nil {
		// Either quoting form is fine as long as the value parses; what matters is the target.
		if got, _ := cfg.target(); got != "shop" {
			t.Errorf("target = %q, want shop", got)
		}
	}
	cfg, err = LoadConfig(mapLookup(map[string]string{"DATABASE_URL": "host=db dbname=shop user=app password=secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := cfg.target(); got != "shop" {
		t.Errorf("target = %q, want shop", got)
	}
	if strings.Contains(fmt.Sprint(cfg), "secret") {
		t.Errorf("%v shows the password", cfg)
	}
}

func TestValidateBuiltConfig(t *testing.T) {
	err := Config{Enabled: true}.Validate()
	var settingsNamed []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ConfigError
		if errors.As(e, &ce) {
			settingsNamed = append(settingsNamed, ce.Setting)
		}
	}
	want := []string{"DATABASE_URL", "SNAPSHOT_TIME", "SNAPSHOT_RETENTION", "SNAPSHOT_DIR", "SNAPSHOT_TIMEOUT", "SNAPSHOT_LOCK_WAIT_TIMEOUT",
		"SNAPSHOT_VERIFY", "SNAPSHOT_DRILL_SCHEDULE"}
	if diff := cmp.Diff(want, settingsNamed, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("Validate(zero Config) named (-want +got):\n%s", diff)
	}
}

func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{"3", "03:00", "0", "6h", "postgres://u:p@h/d", "true", "x=y", "%zz"} {
		f.Add(s, "hunter2")
	}
	f.Fuzz(func(t *testing.T, value, password string) {
		qe := url.QueryEscape(password)
		if len(password) < 4 || strings.Contains(value, password) || strings.Contains(value, qe) ||
			strings.Contains("postgres://u:xxxxx@h/", qe) {
			return // the password text would show up for reasons of its own
		}
		for _, s := range settings {
			v := value
			if s.Secret {
				v = "postgres://u:" + url.QueryEscape(password) + "@h/" + value
			}
			_, err := LoadConfig(mapLookup(map[string]string{s.Env: v}))
			if err == nil {
				continue
			}
			if !strings.Contains(err.Error(), s.Env) {
				t.Errorf("error for %s=%q does not name the setting: %v", s.Env, v, err)
			}
			if s.Secret && strings.Contains(err.Error(), qe) {
				t.Errorf("error for %s shows the password: %v", s.Env, err)
			}
		}
	})
}
