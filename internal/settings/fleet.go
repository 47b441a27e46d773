package settings

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FleetConfig is a configuration file (--config, SNAPSHOT_CONFIG): many targets, each with its
// own settings, and servers whose databases are all targets.
//
//	settings:                      # for every target: any setting, by its environment name
//	  SNAPSHOT_S3_URL: s3://backups/fleet
//	  SNAPSHOT_KEEP_DAILY: 7
//	max_concurrent: 2              # SNAPSHOT_MAX_CONCURRENT
//	targets:
//	  - name: app                  # SNAPSHOT_TARGET
//	    database_url: postgres://backup@db1/app
//	    settings: {SNAPSHOT_SCHEDULE: "0 * * * *"}
//	    pg_dump: {exclude_tables: [public.audit_log]}
//	servers:
//	  - name: db2
//	    url: postgres://backup@db2/postgres
//	    all_databases: true
//	    exclude: ["template*", "scratch_*"]
//
// A target's settings come, in order of precedence, from its own settings, the environment and
// flags, the file's settings, then the defaults.
type FleetConfig struct {
	Targets []Config
	Servers []ServerConfig
	// MaxConcurrent bounds the dumps running at once over all targets (at least 1).
	MaxConcurrent int
}

// ServerConfig is a server whose databases are all targets, but those matching Exclude
// (path.Match patterns); they are listed when the Fleet starts. Config holds the settings
// every database's target gets; its DatabaseURL names the server (its database is ignored).
type ServerConfig struct {
	Name    string
	Exclude []string
	Config  Config
	// Globals adds the target <name>.globals: the server's roles and tablespaces
	// (pg_dumpall --globals-only) on the same schedule. Default true for servers.
	Globals bool

	// GlobalsOnly marks the globals of a single target (globals: true): no database of its own.
	GlobalsOnly bool
}

type fleetFile struct {
	Settings      map[string]string `yaml:"settings"`
	MaxConcurrent int               `yaml:"max_concurrent"`
	Targets       []fleetTarget     `yaml:"targets"`
	Servers       []fleetServer     `yaml:"servers"`
}

type fleetTarget struct {
	Name        string            `yaml:"name"`
	Globals     bool              `yaml:"globals"`
	DatabaseURL string            `yaml:"database_url"`
	Settings    map[string]string `yaml:"settings"`
	PGDump      pgDumpSection     `yaml:"pg_dump"`
}

type fleetServer struct {
	Name         string            `yaml:"name"`
	Globals      *bool             `yaml:"globals"`
	URL          string            `yaml:"url"`
	AllDatabases bool              `yaml:"all_databases"`
	Exclude      []string          `yaml:"exclude"`
	Settings     map[string]string `yaml:"settings"`
	PGDump       pgDumpSection     `yaml:"pg_dump"`
}

type pgDumpSection struct {
	Schemas        []string `yaml:"schemas"`
	ExcludeSchemas []string `yaml:"exclude_schemas"`
	Tables         []string `yaml:"tables"`
	ExcludeTables  []string `yaml:"exclude_tables"`
}

func (p pgDumpSection) settings() map[string]string {
	out := map[string]string{}
	for env, v := range map[string][]string{
		"SNAPSHOT_PG_DUMP_SCHEMAS": p.Schemas, "SNAPSHOT_PG_DUMP_EXCLUDE_SCHEMAS": p.ExcludeSchemas,
		"SNAPSHOT_PG_DUMP_TABLES": p.Tables, "SNAPSHOT_PG_DUMP_EXCLUDE_TABLES": p.ExcludeTables,
	} {
		if len(v) > 0 {
			out[env] = strings.Join(v, ",")
		}
	}
	return out
}

// LoadFleet reads a configuration file and builds every target's Config, with lookup (the
// environment and flags) over the file's settings. It reports every problem at once, each
// naming the file, the target and the setting; it touches no database.
func LoadFleet(path string, lookup func(string) (string, bool)) (FleetConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return FleetConfig{}, fmt.Errorf("SNAPSHOT_CONFIG: %w", err)
	}
	var f fleetFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return FleetConfig{}, fmt.Errorf("config file %s: %w (want settings, max_concurrent, targets and servers)", path, err)
	}
	var errs []error
	bad := func(where string, err error) {
		errs = append(errs, fmt.Errorf("config file %s: %s: %w", path, where, err))
	}
	if err := knownSettings(f.Settings); err != nil {
		bad("settings", err)
	}
	fc := FleetConfig{MaxConcurrent: max(f.MaxConcurrent, 1)}
	if v, ok := lookup("SNAPSHOT_MAX_CONCURRENT"); ok {
		var c Config
		if err := Lookup("SNAPSHOT_MAX_CONCURRENT").set(&c, v); err != nil {
			bad("SNAPSHOT_MAX_CONCURRENT", err)
		}
		fc.MaxConcurrent = c.MaxConcurrent
	} else if f.MaxConcurrent < 0 || f.MaxConcurrent > 64 {
		bad("max_concurrent", errors.New("not a whole number from 1 to 64"))
	}
	load := func(where string, own map[string]string) (Config, bool) {
		if err := knownSettings(own); err != nil {
			bad(where, err)
			return Config{}, false
		}
		cfg, err := Load(chainLookup(own, lookup, f.Settings))
		if err != nil {
			bad(where, err)
			return Config{}, false
		}
		return cfg, true
	}
	names := map[string]bool{}
	for i, t := range f.Targets {
		where := fmt.Sprintf("targets[%d] (%s)", i, t.Name)
		own := t.PGDump.settings()
		for k, v := range t.Settings {
			own[k] = v
		}
		if t.Name == "" {
			bad(where, errors.New("name: required ("+TargetWant+")"))
			continue
		}
		own["SNAPSHOT_TARGET"] = t.Name
		if t.DatabaseURL != "" {
			own["DATABASE_URL"] = t.DatabaseURL
		}
		if names[t.Name] {
			bad(where, errors.New("name used by another target"))
		}
		names[t.Name] = true
		if cfg, ok := load(where, own); ok {
			if cfg.DatabaseURL == "" {
				bad(where, errors.New("database_url: required"))
				continue
			}
			fc.Targets = append(fc.Targets, cfg)
			if t.Globals {
				fc.Servers = append(fc.Servers, ServerConfig{Name: t.Name, Config: cfg, Globals: true, GlobalsOnly: true})
			}
		}
	}
	for i, s := range f.Servers {
		where := fmt.Sprintf("servers[%d] (%s)", i, s.Name)
		if !s.AllDatabases {
			bad(where, errors.New("all_databases: only true is supported (list single databases under targets)"))
			continue
		}
		if s.Name == "" || ValidTarget(s.Name) != nil {
			bad(where, errors.New("name: required, "+TargetWant))
			continue
		}
		own := s.PGDump.settings()
		for k, v := range s.Settings {
			own[k] = v
		}
		own["DATABASE_URL"] = s.URL
		// The server's databases are named when the fleet lists them; its name stands in
		// for them here, so a url without a database still loads.
		own["SNAPSHOT_TARGET"] = s.Name
		if cfg, ok := load(where, own); ok {
			fc.Servers = append(fc.Servers, ServerConfig{Name: s.Name, Exclude: s.Exclude, Config: cfg, Globals: s.Globals == nil || *s.Globals})
		}
	}
	if len(f.Targets) == 0 && len(f.Servers) == 0 && len(errs) == 0 {
		bad("targets", errors.New("no target and no server"))
	}
	return fc, errors.Join(errs...)
}

// chainLookup looks a setting up in own, then lookup, then file: the first that has it wins.
// SNAPSHOT_TIME and SNAPSHOT_SCHEDULE are one choice: the first level that sets either decides,
// so a target's own cron schedule replaces the file's daily time instead of clashing with it.
func chainLookup(own map[string]string, lookup func(string) (string, bool), file map[string]string) func(string) (string, bool) {
	levels := []func(string) (string, bool){
		func(n string) (string, bool) { v, ok := own[n]; return v, ok },
		lookup,
		func(n string) (string, bool) { v, ok := file[n]; return v, ok },
	}
	return func(name string) (string, bool) {
		for _, level := range levels {
			if name == "SNAPSHOT_TIME" || name == "SNAPSHOT_SCHEDULE" {
				_, hasTime := level("SNAPSHOT_TIME")
				_, hasCron := level("SNAPSHOT_SCHEDULE")
				if hasTime || hasCron {
					return level(name) // this level decides the schedule
				}
				continue
			}
			if v, ok := level(name); ok {
				return v, true
			}
		}
		return "", false
	}
}

// knownSettings rejects keys that are no setting's name.
func knownSettings(m map[string]string) error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if Lookup(k).set == nil {
			errs = append(errs, fmt.Errorf("%s is not a setting (settings are named like the environment variables: SNAPSHOT_RETENTION, DATABASE_URL, ...)", k))
		}
	}
	return errors.Join(errs...)
}
