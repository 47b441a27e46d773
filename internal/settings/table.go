package settings

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/schedule"
)

// Setting describes one configuration setting: one name per place it can be given.
type Setting struct {
	Env     string // environment variable, e.g. SNAPSHOT_RETENTION
	Flag    string // command-line flag without dashes, e.g. retention
	Default string // default as text ("" when none)
	Want    string // the accepted form, as error messages state it
	Doc     string // one line for help texts and the README
	Secret  bool   // the value may hold a password: never echoed

	// EmptyIsUnset makes an empty value mean "use the default" instead of an error.
	EmptyIsUnset bool
	hide         bool // a secret that is never shown, not even masked
	set          func(c *Config, v string) error
}

// All returns the table of every setting Config reads, in documentation order.
func All() []Setting {
	out := make([]Setting, len(settings))
	copy(out, settings)
	return out
}

// settings is every setting, in documentation order.
var settings = slices.Concat(coreSettings, policySettings, dumpSettings, pipelineSettings, s3Settings, opsSettings)

var coreSettings = []Setting{
	{
		Env: "DATABASE_URL", Flag: "database-url", Secret: true, EmptyIsUnset: true,
		Want: "postgres://user:password@host:port/dbname?param=value (password percent-encoded) or key=value pairs",
		Doc:  "database to snapshot",
		set:  setDatabaseURL,
	},
	{
		Env: "DATABASE_URL_FILE", EmptyIsUnset: true,
		Want: "a file holding DATABASE_URL (systemd LoadCredential, Docker and Kubernetes secrets)",
		Doc:  "DATABASE_URL, read from this file",
		set: func(c *Config, v string) error {
			url, err := readValueFile(v)
			if err != nil {
				return err
			}
			if err := setDatabaseURL(c, url); err != nil {
				return fmt.Errorf("its content: %w", err) // never the content itself
			}
			return nil
		},
	},
	{
		Env: "SNAPSHOT_ENABLED", Flag: "enabled", Default: "false",
		Want: "true, false, 1, 0, yes or no",
		Doc:  "turn the scheduler on (pgsnap run: default true)",
		set: func(c *Config, v string) (err error) {
			c.Enabled, err = ParseBool(v)
			return err
		},
	},
	{
		Env: "SNAPSHOT_TIME", Flag: "time", Default: "03:00",
		Want: "HH:MM, 00:00–23:59, UTC",
		Doc:  "daily time of the snapshot, in UTC",
		set: func(c *Config, v string) error {
			d, err := schedule.ParseDaily(v)
			if pe, ok := errors.AsType[*schedule.ParseError](err); ok {
				return errors.New(pe.Problem)
			} else if err != nil {
				return err
			}
			c.Schedule = d
			return nil
		},
	},
	{
		Env: "SNAPSHOT_RETENTION", Flag: "retention", Default: "7",
		Want: "a whole number ≥ 1 (the newest N are kept)",
		Doc:  "how many of the newest complete snapshots to keep",
		set: func(c *Config, v string) (err error) {
			c.Retention, err = parseCount(v)
			return err
		},
	},
	{
		Env: "SNAPSHOT_DIR", Flag: "dir", Default: "/snapshots",
		Want: "a directory path",
		Doc:  "directory the snapshots are stored in (created 0700 if missing)",
		set: func(c *Config, v string) error {
			if strings.TrimSpace(v) == "" {
				return errors.New("must not be empty")
			}
			if strings.ContainsRune(v, 0) {
				return errors.New("contains a NUL byte")
			}
			c.Dir = v
			return nil
		},
	},
	{
		Env: "SNAPSHOT_TIMEOUT", Flag: "timeout", Default: "6h",
		Want: "a duration greater than 0 with a unit, such as 90m or 6h",
		Doc:  "limit for one snapshot attempt; pg_dump is killed after it",
		set: func(c *Config, v string) (err error) {
			c.Timeout, err = parsePositiveDuration(v)
			return err
		},
	},
	{
		Env: "SNAPSHOT_LOCK_WAIT_TIMEOUT", Flag: "lock-wait-timeout", Default: "5m",
		Want: "a duration greater than 0 with a unit, such as 30s or 5m",
		Doc:  "how long pg_dump waits for a table lock before failing",
		set: func(c *Config, v string) (err error) {
			c.LockWaitTimeout, err = parsePositiveDuration(v)
			return err
		},
	},
	{
		Env: "SNAPSHOT_PG_BIN_DIR", Flag: "pg-bin-dir", EmptyIsUnset: true,
		Want: "a directory holding pg_dump and pg_restore",
		Doc:  "take the PostgreSQL client tools from this directory only",
		set: func(c *Config, v string) error {
			c.PGBinDir = v
			return nil
		},
	},
	{
		Env: "SNAPSHOT_TARGET", Flag: "target", EmptyIsUnset: true,
		Want: TargetWant,
		Doc:  "name of the database in snapshot names (default: from DATABASE_URL)",
		set: func(c *Config, v string) error {
			if err := ValidTarget(v); err != nil {
				return err
			}
			c.Target = v
			return nil
		},
	},
	{
		Env: "SNAPSHOT_VERIFY", Flag: "verify", Default: VerifyQuick,
		Want: "quick, full or off",
		Doc:  "commit gate of every snapshot: quick (checksum, frames, TOC) or full (every data block read)",
		set: func(c *Config, v string) error {
			return oneOf(&c.Verify, v, VerifyQuick, VerifyFull, VerifyOff)
		},
	},
	{
		Env: "SNAPSHOT_DRILL_SCHEDULE", Flag: "drill-schedule", Default: DrillOff,
		Want: "off, after-each, daily or weekly",
		Doc:  "when the daemon restores the newest snapshot into a scratch database to prove it",
		set: func(c *Config, v string) error {
			return oneOf(&c.DrillSchedule, v, DrillOff, DrillAfterEach, DrillDaily, DrillWeekly)
		},
	},
	{
		Env: "SNAPSHOT_DRILL_URL", Flag: "drill-url", Secret: true, EmptyIsUnset: true,
		Want: "a connection string like DATABASE_URL's (its database is not used)",
		Doc:  "server drills restore on (default: the source server)",
		set: func(c *Config, v string) error {
			if err := ConnString(v).Check(); err != nil {
				return err
			}
			c.DrillURL = ConnString(v)
			return nil
		},
	},
	{
		Env: "SNAPSHOT_TMPDIR", Flag: "tmpdir", EmptyIsUnset: true,
		Want: "a directory with room for a decoded archive",
		Doc:  "where restores and drills decode archives (default: the OS temp dir)",
		set: func(c *Config, v string) error {
			c.TempDir = v
			return nil
		},
	},
}

func setDatabaseURL(c *Config, v string) error {
	if err := ConnString(v).Check(); err != nil {
		return err
	}
	c.DatabaseURL = ConnString(v)
	return nil
}

// oneOf sets *dst to v when v is one of allowed.
func oneOf(dst *string, v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return errors.New("not one of " + strings.Join(allowed, ", "))
	}
	*dst = v
	return nil
}

func Lookup(env string) Setting {
	for _, s := range settings {
		if s.Env == env {
			return s
		}
	}
	return Setting{Env: env}
}

func (s Setting) Problem(value string, err error) *ConfigError {
	shown := strconv.Quote(value)
	switch {
	case s.hide:
		shown = "(secret: not shown)"
	case strings.Contains(value, "AGE-SECRET-KEY-") || strings.Contains(value, "PRIVATE KEY"):
		shown = "(a private key: not shown)" // pasted where a public key belongs
	case s.Secret:
		shown = strconv.Quote(conninfo.Redact(value))
	}
	return &ConfigError{Setting: s.Env, Flag: s.Flag, Value: shown, Problem: err.Error(), Want: s.Want}
}

// ConfigError is one invalid setting. Value is quoted and has any password masked.
type ConfigError struct {
	Setting string // environment variable name
	Flag    string // flag name without dashes
	Value   string // the value given, quoted, password masked
	Problem string // what is wrong, when more than "not accepted"
	Want    string // the accepted form
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s=%s", e.Setting, e.Value)
	if e.Problem != "" {
		fmt.Fprintf(&b, ": %s", e.Problem)
	}
	if e.Want != "" && !strings.Contains(e.Problem, "want ") {
		fmt.Fprintf(&b, " (want %s)", e.Want)
	}
	return b.String()
}

// ParseBool accepts true/false, 1/0 and yes/no, in any letter case.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// parseCount accepts ASCII digits only (no sign, spaces, exponent or hex) and a value >= 1.
func parseCount(v string) (int, error) {
	if v == "" {
		return 0, errors.New("empty")
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return 0, errors.New("not a whole number")
		}
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, errors.New("too large")
	}
	if n < 1 {
		return 0, errors.New("must be at least 1: retention never deletes every snapshot")
	}
	return int(n), nil
}

func parsePositiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("not a duration")
	}
	if d <= 0 {
		return 0, errors.New("must be greater than 0")
	}
	return d, nil
}

// TargetWant is the accepted form of a target name.
const TargetWant = "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"

const maxTargetLen = 63

func isTargetByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '.' || c == '_' || c == '-':
		return !first
	}
	return false
}

// ValidTarget checks a target name (SNAPSHOT_TARGET, and the first part of a snapshot's name).
func ValidTarget(s string) error {
	if s == "" || len(s) > maxTargetLen {
		return errors.New("must be " + TargetWant)
	}
	for i := 0; i < len(s); i++ {
		if !isTargetByte(s[i], i == 0) {
			return errors.New("must be " + TargetWant)
		}
	}
	return nil
}

// TargetFromDatabase makes a valid target name from any database name: bytes outside the
// allowed set become '_', and a name that does not start with a letter or digit gets "db".
func TargetFromDatabase(db string) string {
	b := []byte(db)
	for i := range b {
		if !isTargetByte(b[i], false) {
			b[i] = '_'
		}
	}
	s := string(b)
	if !isTargetByte(s[0], true) {
		s = "db" + s
	}
	if len(s) > maxTargetLen {
		s = s[:maxTargetLen]
	}
	return s
}
