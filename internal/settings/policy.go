package settings

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/retention"
	"github.com/pgsnap/pgsnap/schedule"
)

// Catch-up modes (SNAPSHOT_CATCH_UP): what Run does at start-up about a slot missed while it
// was down.
const (
	CatchUpOnce = "once" // take the newest missed slot once, if inside SNAPSHOT_CATCH_UP_WINDOW
	CatchUpSkip = "skip" // wait for the next slot
)

// policySettings say when snapshots are due, which are kept, and what they are tagged with.
var policySettings = []Setting{
	{
		Env: "SNAPSHOT_TZ", Flag: "tz", Default: "UTC",
		Want: "an IANA time zone name such as Europe/Berlin",
		Doc:  "time zone of SNAPSHOT_SCHEDULE and of the days, weeks, months and years of retention",
		set: func(c *Config, v string) error {
			if _, err := schedule.ParseTZ(v); err != nil {
				return err
			}
			c.TimeZone = v
			return nil
		},
	},
	{
		Env: "SNAPSHOT_SCHEDULE", Flag: "schedule", EmptyIsUnset: true,
		Want: `a cron expression of 5 fields ("30 2 * * *") or @hourly, @daily, @weekly, @monthly, @yearly`,
		Doc:  "when snapshots are due, in SNAPSHOT_TZ (instead of SNAPSHOT_TIME)",
		set: func(c *Config, v string) error {
			loc, err := schedule.ParseTZ(cmpOr(c.TimeZone, "UTC"))
			if err != nil {
				return fmt.Errorf("SNAPSHOT_TZ: %w", err)
			}
			cr, err := schedule.ParseCron(v, loc)
			if pe, ok := errors.AsType[*schedule.ParseError](err); ok {
				return errors.New(pe.Problem)
			} else if err != nil {
				return err
			}
			c.Schedule = cr
			return nil
		},
	},
	{
		Env: "SNAPSHOT_CATCH_UP", Flag: "catch-up", Default: CatchUpOnce,
		Want: "once or skip",
		Doc:  "at start-up, take the newest slot missed while down (once) or wait for the next (skip)",
		set: func(c *Config, v string) error {
			return oneOf(&c.CatchUp, v, CatchUpOnce, CatchUpSkip)
		},
	},
	{
		Env: "SNAPSHOT_CATCH_UP_WINDOW", Flag: "catch-up-window", Default: "24h",
		Want: "a duration greater than 0 with a unit, such as 6h",
		Doc:  "how old a missed slot may be and still be caught up",
		set: func(c *Config, v string) (err error) {
			c.CatchUpWindow, err = parsePositiveDuration(v)
			return err
		},
	},
	keepSetting("SNAPSHOT_KEEP_DAILY", "keep-daily", "day", func(c *Config, n int) { c.KeepDaily = n }),
	keepSetting("SNAPSHOT_KEEP_WEEKLY", "keep-weekly", "ISO week", func(c *Config, n int) { c.KeepWeekly = n }),
	keepSetting("SNAPSHOT_KEEP_MONTHLY", "keep-monthly", "month", func(c *Config, n int) { c.KeepMonthly = n }),
	keepSetting("SNAPSHOT_KEEP_YEARLY", "keep-yearly", "year", func(c *Config, n int) { c.KeepYearly = n }),
	{
		Env: "SNAPSHOT_MAX_AGE", Flag: "max-age", Default: "0",
		Want: "a duration with a unit such as 2160h, or 0 for no limit",
		Doc:  "delete snapshots older than this, but never below SNAPSHOT_MIN_KEEP",
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return errors.New("not a duration ≥ 0")
			}
			c.MaxAge = d
			return nil
		},
	},
	{
		Env: "SNAPSHOT_MIN_KEEP", Flag: "min-keep", Default: "1",
		Want: "a whole number ≥ 1",
		Doc:  "the newest N snapshots are kept whatever SNAPSHOT_MAX_AGE says",
		set: func(c *Config, v string) (err error) {
			c.MinKeep, err = parseCount(v)
			return err
		},
	},
	{
		Env: "SNAPSHOT_LABELS", Flag: "labels", EmptyIsUnset: true,
		Want: "key=value pairs separated by commas, such as app=api,env=prod",
		Doc:  "labels recorded in every snapshot's manifest",
		set: func(c *Config, v string) (err error) {
			c.Labels, err = ParseLabels(v)
			return err
		},
	},
}

func keepSetting(env, flag, bucket string, set func(*Config, int)) Setting {
	return Setting{
		Env: env, Flag: flag, Default: "0",
		Want: "a whole number ≥ 0",
		Doc:  "also keep the newest snapshot of each of the newest N " + bucket + "s (0: off)",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || strings.TrimSpace(v) != v || strings.HasPrefix(v, "+") {
				return errors.New("not a whole number ≥ 0")
			}
			set(c, n)
			return nil
		},
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ParseLabels reads key=value pairs separated by commas. Keys are 1-63 letters, digits, '.',
// '_', '-' or '/'; values may be empty and hold anything but commas.
func ParseLabels(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || !validLabelKey(k) {
			return nil, fmt.Errorf("%q is not key=value with a key of letters, digits, '.', '_', '-' or '/'", pair)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("label %q given twice", k)
		}
		out[k] = strings.TrimSpace(val)
	}
	if len(out) == 0 {
		return nil, errors.New("no key=value pair")
	}
	return out, nil
}

func validLabelKey(k string) bool {
	if k == "" || len(k) > 63 {
		return false
	}
	for _, r := range k {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._-/", r)) {
			return false
		}
	}
	return true
}

// policy is the retention policy of the configuration.
func (c Config) Policy() (retention.Policy, error) {
	loc, err := schedule.ParseTZ(cmpOr(c.TimeZone, "UTC"))
	if err != nil {
		return retention.Policy{}, Lookup("SNAPSHOT_TZ").Problem(c.TimeZone, err)
	}
	return retention.Policy{
		Last: c.Retention, Daily: c.KeepDaily, Weekly: c.KeepWeekly, Monthly: c.KeepMonthly, Yearly: c.KeepYearly,
		MaxAge: c.MaxAge, MinKeep: max(c.MinKeep, 1), Location: loc,
	}, nil
}

// labelsString shows labels sorted, for logs and String.
func LabelsString(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

// validatePolicy adds the schedule and retention settings' problems.
func (c Config) validatePolicy(bad func(env, value, problem string)) {
	if c.TimeZone != "" {
		if _, err := schedule.ParseTZ(c.TimeZone); err != nil {
			bad("SNAPSHOT_TZ", c.TimeZone, err.Error())
		}
	}
	if c.CatchUp != CatchUpOnce && c.CatchUp != CatchUpSkip {
		bad("SNAPSHOT_CATCH_UP", c.CatchUp, "not one of once, skip")
	}
	if c.CatchUp == CatchUpOnce && c.CatchUpWindow <= 0 {
		bad("SNAPSHOT_CATCH_UP_WINDOW", c.CatchUpWindow.String(), "must be greater than 0")
	}
	for env, n := range map[string]int{"SNAPSHOT_KEEP_DAILY": c.KeepDaily, "SNAPSHOT_KEEP_WEEKLY": c.KeepWeekly,
		"SNAPSHOT_KEEP_MONTHLY": c.KeepMonthly, "SNAPSHOT_KEEP_YEARLY": c.KeepYearly} {
		if n < 0 {
			bad(env, strconv.Itoa(n), "must not be negative")
		}
	}
	if c.MaxAge < 0 {
		bad("SNAPSHOT_MAX_AGE", c.MaxAge.String(), "must not be negative")
	}
	if c.MinKeep < 1 {
		bad("SNAPSHOT_MIN_KEEP", strconv.Itoa(c.MinKeep), "must be at least 1: the newest snapshot is always kept")
	}
}

func (c Config) policyString() string {
	p, err := c.Policy()
	if err != nil {
		return "invalid"
	}
	return p.String()
}
