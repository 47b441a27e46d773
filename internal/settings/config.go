package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/schedule"
)

// Verification levels (SNAPSHOT_VERIFY) for the commit gate every snapshot passes.
const (
	VerifyQuick = "quick" // stored bytes' SHA-256, zstd frames whole, pg_restore --list reads the TOC
	VerifyFull  = "full"  // quick, then every data block read by pg_restore and rows recounted
	VerifyOff   = "off"
)

// Drill schedules (SNAPSHOT_DRILL_SCHEDULE).
const (
	DrillOff       = "off"
	DrillAfterEach = "after-each"
	DrillDaily     = "daily"
	DrillWeekly    = "weekly"
)

// Config is everything pgsnap needs to protect one database. Start from DefaultConfig (or
// ConfigFromEnv) and change fields; New validates it. Printing a Config in any form masks the
// database password.
type Config struct {
	// DatabaseURL is the database to snapshot (DATABASE_URL). Required when Enabled, and for
	// SnapshotNow.
	DatabaseURL ConnString
	// Enabled turns the scheduler on (SNAPSHOT_ENABLED). When false, Run returns nil at once.
	Enabled bool
	// Schedule says when snapshots are due (SNAPSHOT_TIME: daily at HH:MM UTC).
	Schedule schedule.Schedule
	// Retention is how many of the newest complete snapshots are kept (SNAPSHOT_RETENTION, >= 1).
	Retention int
	// Dir is the local directory snapshots are stored in (SNAPSHOT_DIR). Empty means /snapshots
	// when no other destination is configured, else no local copy.
	Dir string
	// Timeout bounds one snapshot attempt; pg_dump's whole process group is killed after it
	// (SNAPSHOT_TIMEOUT).
	Timeout time.Duration
	// LockWaitTimeout is how long pg_dump waits for a table lock before failing
	// (SNAPSHOT_LOCK_WAIT_TIMEOUT).
	LockWaitTimeout time.Duration
	// PGBinDir, when set, is the only directory pg_dump and pg_restore are taken from
	// (SNAPSHOT_PG_BIN_DIR).
	PGBinDir string
	// Target names the protected database in snapshot names and manifests (SNAPSHOT_TARGET).
	// Empty means: derived from the database name in DatabaseURL.
	Target string
	// Verify is the commit gate every snapshot passes before its manifest is committed:
	// VerifyQuick, VerifyFull or VerifyOff (SNAPSHOT_VERIFY).
	Verify string
	// DrillSchedule says when the scheduler restores the newest snapshot into a scratch
	// database to prove it: DrillOff, DrillAfterEach, DrillDaily or DrillWeekly
	// (SNAPSHOT_DRILL_SCHEDULE).
	DrillSchedule string
	// DrillURL is the server drills restore on (SNAPSHOT_DRILL_URL); empty means the source's.
	DrillURL ConnString
	// TempDir holds decoded archives while they are restored (SNAPSHOT_TMPDIR); empty means
	// the OS temp dir.
	TempDir string
	// Compression is what pgsnap compresses the archive with (SNAPSHOT_COMPRESSION): "zstd"
	// (zstd's fastest level), "zstd:1" to "zstd:19", "fastest", "default", "better", "best" or
	// "none". pg_dump itself never compresses.
	Compression string
	// CompressionThreads is how many goroutines compress in parallel
	// (SNAPSHOT_COMPRESSION_THREADS); 0 means one per CPU.
	CompressionThreads int
	// AgeRecipients, when not empty, encrypts every snapshot with age to these public keys
	// (SNAPSHOT_AGE_RECIPIENTS, SNAPSHOT_AGE_RECIPIENTS_FILE): age1..., age1pq1... or SSH keys.
	AgeRecipients []string
	// AgeIdentityFile holds the private key that decrypts snapshots for restore, verify and
	// drills (SNAPSHOT_AGE_IDENTITY_FILE). The file is read when needed, never copied.
	AgeIdentityFile string
	// S3 is an S3-compatible destination, kept as well as Dir when both are set.
	S3 S3Config
	// TimeZone is the IANA zone of a cron Schedule and of retention's calendar buckets
	// (SNAPSHOT_TZ); empty means UTC.
	TimeZone string
	// CatchUp says what Run does at start-up about the newest slot missed while it was down
	// (SNAPSHOT_CATCH_UP): CatchUpOnce takes it if it is at most CatchUpWindow old
	// (SNAPSHOT_CATCH_UP_WINDOW), CatchUpSkip waits for the next slot.
	CatchUp       string
	CatchUpWindow time.Duration
	// KeepDaily, KeepWeekly, KeepMonthly and KeepYearly also keep the newest snapshot of each
	// of the newest N days, ISO weeks, months and years (SNAPSHOT_KEEP_*); 0 turns one off.
	KeepDaily, KeepWeekly, KeepMonthly, KeepYearly int
	// MaxAge deletes snapshots older than it (SNAPSHOT_MAX_AGE); 0 means no limit. It never
	// goes below MinKeep (SNAPSHOT_MIN_KEEP, at least 1) and never deletes a pinned snapshot.
	MaxAge  time.Duration
	MinKeep int
	// Labels are recorded in every snapshot's manifest (SNAPSHOT_LABELS).
	Labels map[string]string
	// HTTPAddr is where pgsnap run serves /healthz, /readyz, /metrics and the status page
	// (SNAPSHOT_HTTP_ADDR); HTTPOff turns them off. HTTPUser and HTTPPassword, or HTTPToken,
	// protect everything but /healthz.
	HTTPAddr, HTTPUser, HTTPPassword, HTTPToken string
	// StaleAfter is the grace beyond the schedule's interval before the newest snapshot counts
	// as late (SNAPSHOT_STALE_AFTER, default 1h).
	StaleAfter time.Duration
	// WebhookURLs get a JSON POST for the outcomes in WebhookOn (SNAPSHOT_WEBHOOK_URL,
	// SNAPSHOT_WEBHOOK_ON), signed with WebhookSecret when set (SNAPSHOT_WEBHOOK_SECRET).
	WebhookURLs   []string
	WebhookOn     []string
	WebhookSecret string
	// ShrinkAlert is the share of its rows, in percent, a table may lose between two
	// snapshots before pgsnap alerts and pins the earlier one (SNAPSHOT_SHRINK_ALERT, default
	// 50; 0 is off). Tables below ShrinkMinRows rows in the earlier snapshot are ignored
	// (SNAPSHOT_SHRINK_MIN_ROWS, default 1000).
	ShrinkAlert   int
	ShrinkMinRows int64
	// PingURL is a dead man's switch pinged at start (/start), success and failure (/fail)
	// of every snapshot (SNAPSHOT_PING_URL).
	PingURL string
	// DumpSchemas, DumpExcludeSchemas, DumpTables and DumpExcludeTables are pg_dump's
	// --schema, --exclude-schema, --table and --exclude-table patterns
	// (SNAPSHOT_PG_DUMP_SCHEMAS and the like).
	DumpSchemas, DumpExcludeSchemas, DumpTables, DumpExcludeTables []string
	// MaxConcurrent bounds the dumps a Fleet runs at once (SNAPSHOT_MAX_CONCURRENT, default 1).
	MaxConcurrent int
	// DumpJobs is how many pg_dump streams take one snapshot (SNAPSHOT_DUMP_JOBS, default 1):
	// they share one exported snapshot, each takes a share of the tables by size, and each is
	// stored as a part of the snapshot.
	DumpJobs int
}

// Default returns the configuration used when no setting is given.
func Default() Config {
	return Config{
		Schedule:        schedule.Daily{Hour: 3, Minute: 0},
		Retention:       7,
		Timeout:         6 * time.Hour,
		LockWaitTimeout: 5 * time.Minute,
		Verify:          VerifyQuick,
		DrillSchedule:   DrillOff,
		Compression:     codec.Zstd,
		CatchUp:         CatchUpOnce,
		CatchUpWindow:   24 * time.Hour,
		MinKeep:         1,
		HTTPAddr:        "127.0.0.1:9187",
		StaleAfter:      time.Hour,
		WebhookOn:       []string{"failure", "recovery", "shrink"},
		ShrinkAlert:     50,
		ShrinkMinRows:   1000,
		MaxConcurrent:   1,
		DumpJobs:        1,
	}
}

// FromEnv reads DATABASE_URL and the SNAPSHOT_* environment variables on top of
// DefaultConfig. It reports every problem at once (errors.Join of *ConfigError), and touches
// neither the database nor the directory.
func FromEnv() (Config, error) {
	return Load(os.LookupEnv)
}

// Load is FromEnv with the values taken from lookup, keyed by environment variable
// name (the CLI layers its flags over the environment this way; tests pass a map).
func Load(lookup func(name string) (string, bool)) (Config, error) {
	cfg := Default()
	var errs []error
	for _, s := range settings {
		v, ok := lookup(s.Env)
		if !ok {
			continue
		}
		if v == "" && s.EmptyIsUnset {
			continue
		}
		if err := s.set(&cfg, v); err != nil {
			errs = append(errs, s.Problem(v, err))
		}
	}
	if t, ok := lookup("SNAPSHOT_TIME"); ok && t != "" {
		if c, ok := lookup("SNAPSHOT_SCHEDULE"); ok && c != "" {
			errs = append(errs, Lookup("SNAPSHOT_SCHEDULE").Problem(c,
				errors.New("SNAPSHOT_TIME is set too: give one schedule (SNAPSHOT_TIME=HH:MM is the cron expression \"MM HH * * *\" in UTC)")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// Validate checks a Config built in code the same way LoadConfig checks the environment, and
// returns every problem at once. DatabaseURL is required only when Enabled.
func (c Config) Validate() error {
	var errs []error
	bad := func(env, value, problem string) {
		errs = append(errs, Lookup(env).Problem(value, errors.New(problem)))
	}
	if c.Enabled && c.DatabaseURL == "" {
		bad("DATABASE_URL", "", "required when SNAPSHOT_ENABLED is true")
	}
	if c.DatabaseURL != "" {
		if err := c.DatabaseURL.Check(); err != nil {
			errs = append(errs, Lookup("DATABASE_URL").Problem(string(c.DatabaseURL), err))
		} else if c.Target == "" {
			// Snapshot names start with the target: a connection string that names no
			// database must not surface later as a nameless snapshot.
			if _, err := c.TargetName(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	switch sched := c.Schedule.(type) {
	case nil:
		bad("SNAPSHOT_TIME", "", "no schedule")
	case schedule.Daily:
		if err := sched.Valid(); err != nil {
			bad("SNAPSHOT_TIME", sched.String(), err.Error())
		}
	case schedule.Cron:
		if sched.Next(time.Now()).IsZero() {
			bad("SNAPSHOT_SCHEDULE", sched.String(), "no slot: use schedule.ParseCron")
		}
	}
	if c.Retention < 1 {
		bad("SNAPSHOT_RETENTION", strconv.Itoa(c.Retention), "must be at least 1")
	}
	if c.Dir != "" && strings.TrimSpace(c.Dir) == "" {
		bad("SNAPSHOT_DIR", c.Dir, "must not be blank")
	}
	if c.Timeout <= 0 {
		bad("SNAPSHOT_TIMEOUT", c.Timeout.String(), "must be greater than 0")
	}
	if c.LockWaitTimeout <= 0 {
		bad("SNAPSHOT_LOCK_WAIT_TIMEOUT", c.LockWaitTimeout.String(), "must be greater than 0")
	}
	if c.Target != "" {
		if err := ValidTarget(c.Target); err != nil {
			bad("SNAPSHOT_TARGET", c.Target, err.Error())
		}
	}
	if !slices.Contains([]string{VerifyQuick, VerifyFull, VerifyOff}, c.Verify) {
		bad("SNAPSHOT_VERIFY", c.Verify, "not a verification level")
	}
	if !slices.Contains([]string{DrillOff, DrillAfterEach, DrillDaily, DrillWeekly}, c.DrillSchedule) {
		bad("SNAPSHOT_DRILL_SCHEDULE", c.DrillSchedule, "not a drill schedule")
	}
	if c.DrillURL != "" {
		if err := c.DrillURL.Check(); err != nil {
			errs = append(errs, Lookup("SNAPSHOT_DRILL_URL").Problem(string(c.DrillURL), err))
		}
	}
	if _, err := codec.ParseCompression(c.Compression); err != nil {
		bad("SNAPSHOT_COMPRESSION", c.Compression, err.Error())
	}
	if c.DumpJobs < 0 || c.DumpJobs > 64 {
		bad("SNAPSHOT_DUMP_JOBS", strconv.Itoa(c.DumpJobs), "not a whole number from 1 to 64")
	}
	if c.CompressionThreads < 0 || c.CompressionThreads > maxThreads {
		bad("SNAPSHOT_COMPRESSION_THREADS", strconv.Itoa(c.CompressionThreads), "not a whole number from 0 to 256")
	}
	c.validateS3(bad)
	c.validatePolicy(bad)
	c.validateOps(bad)
	if err := codec.RecipientProblems(c.AgeRecipients); err != nil {
		bad("SNAPSHOT_AGE_RECIPIENTS", fmt.Sprintf("%d keys", len(c.AgeRecipients)), err.Error())
	}
	return errors.Join(errs...)
}

// TargetName returns the target name: Target, or one derived from the database name (the
// user name when the connection string names no database, as libpq defaults it).
func (c Config) TargetName() (string, error) {
	if c.Target != "" {
		return c.Target, nil
	}
	if c.DatabaseURL == "" {
		return "", Lookup("SNAPSHOT_TARGET").Problem("", errors.New("set SNAPSHOT_TARGET or DATABASE_URL"))
	}
	info, err := c.DatabaseURL.Parse()
	if err != nil {
		return "", Lookup("DATABASE_URL").Problem(string(c.DatabaseURL), err)
	}
	db := info.Database()
	if db == "" {
		db = info.User()
	}
	if db == "" {
		return "", Lookup("DATABASE_URL").Problem(string(c.DatabaseURL),
			errors.New("names neither a database (dbname) nor a user, so no target name can be derived from it: add dbname, or set SNAPSHOT_TARGET"))
	}
	return TargetFromDatabase(db), nil
}

// String describes the configuration with the password masked.
func (c Config) String() string {
	sched := "<nil>"
	if c.Schedule != nil {
		sched = c.Schedule.String()
	}
	return fmt.Sprintf("pgsnap.Config{DatabaseURL: %s, Enabled: %t, Schedule: %s, Retention: %d, Dir: %s, Timeout: %s, LockWaitTimeout: %s, PGBinDir: %s, Target: %s, Verify: %s, DrillSchedule: %s, DrillURL: %s, TempDir: %s, Compression: %s, CompressionThreads: %d, AgeRecipients: %q, AgeIdentityFile: %s, S3: %s, TimeZone: %s, CatchUp: %s/%s, Retention policy: %s, Labels: %s}",
		quote(c.DatabaseURL.String()), c.Enabled, sched, c.Retention, quote(c.Dir), c.Timeout, c.LockWaitTimeout, quote(c.PGBinDir), quote(c.Target),
		quote(c.Verify), quote(c.DrillSchedule), quote(c.DrillURL.String()), quote(c.TempDir),
		quote(c.Compression), c.CompressionThreads, c.AgeRecipients, quote(c.AgeIdentityFile), quote(c.S3.String()),
		quote(c.TimeZone), c.CatchUp, c.CatchUpWindow, c.policyString(), quote(LabelsString(c.Labels)))
}

// GoString is String: the %#v form masks the password too.
func (c Config) GoString() string { return c.String() }

// LogValue presents the configuration as attributes, with the password masked.
func (c Config) LogValue() slog.Value {
	sched := ""
	if c.Schedule != nil {
		sched = c.Schedule.String()
	}
	return slog.GroupValue(
		slog.String("database_url", c.DatabaseURL.String()),
		slog.Bool("enabled", c.Enabled),
		slog.String("schedule", sched),
		slog.Int("retention", c.Retention),
		slog.String("dir", c.Dir),
		slog.Duration("timeout", c.Timeout),
		slog.Duration("lock_wait_timeout", c.LockWaitTimeout),
		slog.String("pg_bin_dir", c.PGBinDir),
		slog.String("target", c.Target),
		slog.String("verify", c.Verify),
		slog.String("drill_schedule", c.DrillSchedule),
		slog.String("drill_url", c.DrillURL.String()),
		slog.String("tmpdir", c.TempDir),
		slog.String("compression", c.Compression),
		slog.Int("compression_threads", c.CompressionThreads),
		slog.Any("age_recipients", c.AgeRecipients),
		slog.String("age_identity_file", c.AgeIdentityFile),
		slog.String("s3", c.S3.String()),
		slog.String("tz", c.TimeZone),
		slog.String("catch_up", c.CatchUp),
		slog.Duration("catch_up_window", c.CatchUpWindow),
		slog.String("retention_policy", c.policyString()),
		slog.String("labels", LabelsString(c.Labels)),
	)
}

func quote(s string) string { return strconv.Quote(s) }
