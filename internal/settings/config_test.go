package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/schedule"
)

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// Public keys only: recipients are not secrets.
const (
	testRecipient    = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	testSSHRecipient = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJMgOkO2dZ0I1rMzCaRwBxnHvB6ffW3YtQ8m5X6rhqJe backup@example"
)

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := Load(mapLookup(nil))
	if err != nil {
		t.Fatalf("Load(empty) = %v", err)
	}
	want := Config{
		Schedule: schedule.Daily{Hour: 3}, Retention: 7,
		Timeout: 6 * time.Hour, LockWaitTimeout: 5 * time.Minute, Verify: VerifyQuick, DrillSchedule: DrillOff,
		Compression: codec.Zstd, CatchUp: CatchUpOnce, CatchUpWindow: 24 * time.Hour, MinKeep: 1,
		HTTPAddr: "127.0.0.1:9187", StaleAfter: time.Hour, WebhookOn: []string{"failure", "recovery", "shrink"}, ShrinkAlert: 50, ShrinkMinRows: 1000, MaxConcurrent: 1, DumpJobs: 1,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadConfigValues(t *testing.T) {
	cfg, err := Load(mapLookup(map[string]string{
		"DATABASE_URL":                 "postgres://app:pw@db:5432/app",
		"SNAPSHOT_ENABLED":             "YES",
		"SNAPSHOT_TIME":                "23:59",
		"SNAPSHOT_RETENTION":           "1000000",
		"SNAPSHOT_DIR":                 "/var/lib/pgsnap",
		"SNAPSHOT_TIMEOUT":             "90m",
		"SNAPSHOT_LOCK_WAIT_TIMEOUT":   "30s",
		"SNAPSHOT_PG_BIN_DIR":          "/opt/pg/bin",
		"SNAPSHOT_TARGET":              "app.prod-1",
		"SNAPSHOT_VERIFY":              "full",
		"SNAPSHOT_DRILL_SCHEDULE":      "weekly",
		"SNAPSHOT_DRILL_URL":           "postgres://drill:pw@scratch/postgres",
		"SNAPSHOT_TMPDIR":              "/var/tmp/pgsnap",
		"SNAPSHOT_COMPRESSION":         "zstd:7",
		"SNAPSHOT_COMPRESSION_THREADS": "3",
		"SNAPSHOT_AGE_RECIPIENTS":      testRecipient + ", " + testSSHRecipient,
		"SNAPSHOT_AGE_IDENTITY_FILE":   "/etc/pgsnap/age.key",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		DatabaseURL: "postgres://app:pw@db:5432/app", Enabled: true,
		Schedule: schedule.Daily{Hour: 23, Minute: 59}, Retention: 1000000, Dir: "/var/lib/pgsnap",
		Timeout: 90 * time.Minute, LockWaitTimeout: 30 * time.Second, PGBinDir: "/opt/pg/bin", Target: "app.prod-1",
		Verify: VerifyFull, DrillSchedule: DrillWeekly, DrillURL: "postgres://drill:pw@scratch/postgres", TempDir: "/var/tmp/pgsnap",
		Compression: "zstd:7", CompressionThreads: 3, AgeRecipients: []string{testRecipient, testSSHRecipient},
		AgeIdentityFile: "/etc/pgsnap/age.key", CatchUp: CatchUpOnce, CatchUpWindow: 24 * time.Hour, MinKeep: 1,
		HTTPAddr: "127.0.0.1:9187", StaleAfter: time.Hour, WebhookOn: []string{"failure", "recovery", "shrink"}, ShrinkAlert: 50, ShrinkMinRows: 1000, MaxConcurrent: 1, DumpJobs: 1,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestLoadConfigRejects(t *testing.T) {
	invariants.Fault(t, "T19", "T23")
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
			_, err := Load(mapLookup(map[string]string{tc.env: tc.value}))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Load(%s=%q) = %v, want a *ConfigError", tc.env, tc.value, err)
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
	_, err := Load(mapLookup(map[string]string{
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
	_, err := Load(mapLookup(map[string]string{"SNAPSHOT_ENABLED": "true"}))
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Setting != "DATABASE_URL" {
		t.Fatalf("Load(enabled, no DATABASE_URL) = %v, want a DATABASE_URL error", err)
	}
	if _, err := Load(mapLookup(map[string]string{"SNAPSHOT_ENABLED": "false"})); err != nil {
		t.Errorf("Load(disabled, no DATABASE_URL) = %v, want nil", err)
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
		cfg, err := Load(mapLookup(map[string]string{"DATABASE_URL": raw}))
		if err != nil {
			t.Fatalf("Load(%s) = %v", cfg.DatabaseURL, err)
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
	cfg, err := Load(mapLookup(map[string]string{"DATABASE_URL": "host=db port=5432 dbname=shop user=app password='it''s \\'secret\\''"}))
	if err == nil {
		// Either quoting form is fine as long as the value parses; what matters is the target.
		if got, _ := cfg.TargetName(); got != "shop" {
			t.Errorf("target = %q, want shop", got)
		}
	}
	cfg, err = Load(mapLookup(map[string]string{"DATABASE_URL": "host=db dbname=shop user=app password=secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := cfg.TargetName(); got != "shop" {
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
	want := []string{"DATABASE_URL", "SNAPSHOT_TIME", "SNAPSHOT_RETENTION", "SNAPSHOT_TIMEOUT", "SNAPSHOT_LOCK_WAIT_TIMEOUT",
		"SNAPSHOT_CATCH_UP", "SNAPSHOT_MIN_KEEP",
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
			_, err := Load(mapLookup(map[string]string{s.Env: v}))
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

func TestLoadConfigPolicy(t *testing.T) {
	cfg, err := Load(mapLookup(map[string]string{
		"SNAPSHOT_SCHEDULE":        "30 2 * * MON-FRI",
		"SNAPSHOT_TZ":              "Europe/Berlin",
		"SNAPSHOT_CATCH_UP":        "skip",
		"SNAPSHOT_CATCH_UP_WINDOW": "6h",
		"SNAPSHOT_KEEP_DAILY":      "7",
		"SNAPSHOT_KEEP_WEEKLY":     "4",
		"SNAPSHOT_KEEP_MONTHLY":    "12",
		"SNAPSHOT_KEEP_YEARLY":     "2",
		"SNAPSHOT_MAX_AGE":         "8760h",
		"SNAPSHOT_MIN_KEEP":        "3",
		"SNAPSHOT_LABELS":          "app=api, version=1.4.2,empty=",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cr, ok := cfg.Schedule.(schedule.Cron)
	if !ok || cr.String() != "30 2 * * MON-FRI" || cr.Location().String() != "Europe/Berlin" {
		t.Errorf("Schedule = %v, want the cron expression in Europe/Berlin", cfg.Schedule)
	}
	// Monday 2026-11-30 02:30 in Berlin is 01:30 UTC.
	if got, want := cfg.Schedule.Next(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)), time.Date(2026, 11, 30, 1, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
	p, err := cfg.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.String(), "last 7, daily 7, weekly 4, monthly 12, yearly 2, max age 8760h0m0s, min keep 3, zone Europe/Berlin"; got != want {
		t.Errorf("policy = %q, want %q", got, want)
	}
	if want := map[string]string{"app": "api", "version": "1.4.2", "empty": ""}; !cmp.Equal(cfg.Labels, want) {
		t.Errorf("Labels = %v, want %v", cfg.Labels, want)
	}
	if cfg.CatchUp != CatchUpSkip || cfg.CatchUpWindow != 6*time.Hour {
		t.Errorf("catch-up = %s %v, want skip 6h", cfg.CatchUp, cfg.CatchUpWindow)
	}
}

func TestLoadConfigPolicyRejects(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SNAPSHOT_TIME": "03:00", "SNAPSHOT_SCHEDULE": "@daily"}, "SNAPSHOT_SCHEDULE=\"@daily\": SNAPSHOT_TIME is set too"},
		{map[string]string{"SNAPSHOT_SCHEDULE": "0 0 * * * *"}, "SNAPSHOT_SCHEDULE="},
		{map[string]string{"SNAPSHOT_SCHEDULE": "60 * * * *"}, "minute"},
		{map[string]string{"SNAPSHOT_TZ": "Mars/Olympus"}, "SNAPSHOT_TZ=\"Mars/Olympus\""},
		{map[string]string{"SNAPSHOT_CATCH_UP": "always"}, "SNAPSHOT_CATCH_UP=\"always\": not one of once, skip"},
		{map[string]string{"SNAPSHOT_KEEP_DAILY": "-1"}, "SNAPSHOT_KEEP_DAILY=\"-1\""},
		{map[string]string{"SNAPSHOT_MAX_AGE": "30d"}, "SNAPSHOT_MAX_AGE=\"30d\": not a duration"},
		{map[string]string{"SNAPSHOT_MIN_KEEP": "0"}, "SNAPSHOT_MIN_KEEP=\"0\": must be at least 1"},
		{map[string]string{"SNAPSHOT_LABELS": "novalue"}, "SNAPSHOT_LABELS=\"novalue\""},
		{map[string]string{"SNAPSHOT_LABELS": "a=1,a=2"}, "given twice"},
		{map[string]string{"SNAPSHOT_COMPRESSION": "zstd:22"}, "SNAPSHOT_COMPRESSION=\"zstd:22\": zstd level \"22\" is not a whole number from 1 to 19"},
		{map[string]string{"SNAPSHOT_COMPRESSION": "gzip"}, "SNAPSHOT_COMPRESSION=\"gzip\": unknown compression (want zstd"},
		{map[string]string{"SNAPSHOT_COMPRESSION_THREADS": "-1"}, "SNAPSHOT_COMPRESSION_THREADS=\"-1\""},
		{map[string]string{"SNAPSHOT_AGE_RECIPIENTS": "age1notakey"}, "SNAPSHOT_AGE_RECIPIENTS="},
		{map[string]string{"SNAPSHOT_AGE_RECIPIENTS": "AGE-SECRET-KEY-1QQQQ"}, "this is an age identity"},
		{map[string]string{"SNAPSHOT_AGE_RECIPIENTS_FILE": "/nonexistent/recipients.txt"}, "SNAPSHOT_AGE_RECIPIENTS_FILE=\"/nonexistent/recipients.txt\""},
		{map[string]string{"SNAPSHOT_S3_URL": "https://bucket/x"}, "SNAPSHOT_S3_URL=\"https://bucket/x\""},
		{map[string]string{"SNAPSHOT_S3_SSE": "rot13"}, "SNAPSHOT_S3_SSE=\"rot13\": not one of AES256, aws:kms"},
		{map[string]string{"SNAPSHOT_S3_URL": "s3://bkt/p", "AWS_ACCESS_KEY_ID": "AKIA"}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together"},
		{map[string]string{"AWS_SECRET_ACCESS_KEY_FILE": "/nonexistent/secret"}, "AWS_SECRET_ACCESS_KEY_FILE=\"/nonexistent/secret\": read: no such file"},
	} {
		_, err := Load(mapLookup(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%v) = %v, want an error containing %q", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "AGE-SECRET-KEY-1QQQQ") {
			t.Errorf("Load(%v) echoes the private key: %v", tc.env, err)
		}
	}
}
