package settings

import (
	"errors"
	"strconv"
	"strings"
)

// dumpSettings choose what pg_dump takes and how many dumps run at once.
var dumpSettings = []Setting{
	patternSetting("SNAPSHOT_PG_DUMP_SCHEMAS", "pg-dump-schemas", "--schema", "dump only these schemas",
		func(c *Config, p []string) { c.DumpSchemas = p }),
	patternSetting("SNAPSHOT_PG_DUMP_EXCLUDE_SCHEMAS", "pg-dump-exclude-schemas", "--exclude-schema", "leave these schemas out",
		func(c *Config, p []string) { c.DumpExcludeSchemas = p }),
	patternSetting("SNAPSHOT_PG_DUMP_TABLES", "pg-dump-tables", "--table", "dump only these tables",
		func(c *Config, p []string) { c.DumpTables = p }),
	patternSetting("SNAPSHOT_PG_DUMP_EXCLUDE_TABLES", "pg-dump-exclude-tables", "--exclude-table", "leave these tables out",
		func(c *Config, p []string) { c.DumpExcludeTables = p }),
	{
		Env: "SNAPSHOT_DUMP_JOBS", Flag: "dump-jobs", Default: "1",
		Want: "a whole number from 1 to 64",
		Doc:  "pg_dump streams of one snapshot, sharing one exported snapshot, its tables split by size",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 64 || strings.TrimSpace(v) != v {
				return errors.New("not a whole number from 1 to 64")
			}
			c.DumpJobs = n
			return nil
		},
	},
	{
		Env: "SNAPSHOT_MAX_CONCURRENT", Flag: "max-concurrent", Default: "1",
		Want: "a whole number from 1 to 64",
		Doc:  "dumps one pgsnap runs at once, over all its targets",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 64 || strings.TrimSpace(v) != v {
				return errors.New("not a whole number from 1 to 64")
			}
			c.MaxConcurrent = n
			return nil
		},
	},
}

func patternSetting(env, flag, option, doc string, set func(*Config, []string)) Setting {
	return Setting{
		Env: env, Flag: flag, EmptyIsUnset: true,
		Want: "pg_dump " + option + " patterns, separated by commas",
		Doc:  doc + " (pg_dump " + option + ")",
		set: func(c *Config, v string) error {
			var out []string
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					if strings.HasPrefix(p, "-") {
						return errors.New("a pattern may not start with '-'")
					}
					out = append(out, p)
				}
			}
			if len(out) == 0 {
				return errors.New("no pattern")
			}
			set(c, out)
			return nil
		},
	}
}

// dumpArgs are the pg_dump arguments the configuration adds: what to include and exclude.
func (c Config) DumpArgs() []string {
	var args []string
	for _, opt := range []struct {
		name     string
		patterns []string
	}{
		{"--schema", c.DumpSchemas}, {"--exclude-schema", c.DumpExcludeSchemas},
		{"--table", c.DumpTables}, {"--exclude-table", c.DumpExcludeTables},
	} {
		for _, p := range opt.patterns {
			args = append(args, opt.name+"="+p)
		}
	}
	return args
}
