package pgsnap

import (
	"github.com/pgsnap/pgsnap/internal/settings"
)

// Config is everything pgsnap needs to protect one database. Start from DefaultConfig (or
// ConfigFromEnv) and change fields; New and Open validate it. Printing a Config in any form
// masks the database password. Its fields are documented with each setting (pgsnap help
// settings, or Settings).
type Config = settings.Config

// ConfigError is one invalid setting. Value is quoted and has any password masked.
type ConfigError = settings.ConfigError

// ConnString is a PostgreSQL connection string (a postgres:// URL or key=value pairs). Every
// printed form of it masks the password; convert it to string explicitly to get the raw value.
type ConnString = settings.ConnString

// S3Config is an S3-compatible destination (SNAPSHOT_S3_*). Printing it never shows the secret
// key or session token.
type S3Config = settings.S3Config

// Setting describes one configuration setting: one name per place it can be given.
type Setting = settings.Setting

// FleetConfig is a configuration file (--config, SNAPSHOT_CONFIG): many targets, each with its
// own settings, and servers whose databases are all targets.
type FleetConfig = settings.FleetConfig

// ServerConfig is a server whose databases are all targets (see FleetConfig).
type ServerConfig = settings.ServerConfig

// Values of settings.
const (
	VerifyQuick    = settings.VerifyQuick // SNAPSHOT_VERIFY: checksum, frames, table of contents
	VerifyFull     = settings.VerifyFull  // and every data block read, rows recounted
	VerifyOff      = settings.VerifyOff
	DrillOff       = settings.DrillOff // SNAPSHOT_DRILL_SCHEDULE
	DrillAfterEach = settings.DrillAfterEach
	DrillDaily     = settings.DrillDaily
	DrillWeekly    = settings.DrillWeekly
	CatchUpOnce    = settings.CatchUpOnce // SNAPSHOT_CATCH_UP
	CatchUpSkip    = settings.CatchUpSkip
	HTTPOff        = settings.HTTPOff // SNAPSHOT_HTTP_ADDR
)

// DefaultConfig returns the configuration used when no setting is given.
func DefaultConfig() Config { return settings.Default() }

// ConfigFromEnv reads DATABASE_URL and the SNAPSHOT_* environment variables on top of
// DefaultConfig. It reports every problem at once (errors.Join of *ConfigError), and touches
// neither the database nor the directory.
func ConfigFromEnv() (Config, error) { return settings.FromEnv() }

// LoadConfig is ConfigFromEnv with the values taken from lookup, keyed by environment variable
// name (the CLI layers its flags over the environment this way; tests pass a map).
func LoadConfig(lookup func(name string) (string, bool)) (Config, error) {
	return settings.Load(lookup)
}

// Settings returns the table of every setting Config reads, in documentation order.
func Settings() []Setting { return settings.All() }

// ParseBool accepts true/false, 1/0 and yes/no, in any letter case.
func ParseBool(v string) (bool, error) { return settings.ParseBool(v) }

// ParseLabels reads key=value pairs separated by commas (SNAPSHOT_LABELS, restore --label).
func ParseLabels(v string) (map[string]string, error) { return settings.ParseLabels(v) }

// LoadFleetConfig reads a configuration file and builds every target's Config, with lookup (the
// environment and flags) over the file's settings. It reports every problem at once, each
// naming the file, the target and the setting; it touches no database.
func LoadFleetConfig(path string, lookup func(string) (string, bool)) (FleetConfig, error) {
	return settings.LoadFleet(path, lookup)
}
