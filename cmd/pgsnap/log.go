package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/pgsnap/pgsnap"
)

// cliSettings are settings of the command only (the library takes a *slog.Logger instead).
var cliSettings = []pgsnap.Setting{
	{Env: "SNAPSHOT_LOG_FORMAT", Flag: "log-format", Default: "text", Want: "text or json", Doc: "log format on standard error"},
	{Env: "SNAPSHOT_LOG_LEVEL", Flag: "log-level", Default: "info", Want: "debug, info, warn or error", Doc: "lowest level logged"},
	{Env: "SNAPSHOT_CONFIG", Flag: "config", Want: "a YAML file of targets and servers", Doc: "many targets: run, list and status take them all; other commands the one named by SNAPSHOT_TARGET"},
}

// newLogger builds the logger on w from SNAPSHOT_LOG_FORMAT and SNAPSHOT_LOG_LEVEL.
func newLogger(w io.Writer, lookup func(string) (string, bool)) (*slog.Logger, error) {
	var errs []error
	level := slog.LevelInfo
	if v, ok := lookup("SNAPSHOT_LOG_LEVEL"); ok {
		if err := level.UnmarshalText([]byte(v)); err != nil || strings.ContainsAny(v, "+-") {
			errs = append(errs, cliError("SNAPSHOT_LOG_LEVEL", v))
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if v, ok := lookup("SNAPSHOT_LOG_FORMAT"); ok {
		switch strings.ToLower(v) {
		case "text":
		case "json":
			h = slog.NewJSONHandler(w, opts)
		default:
			errs = append(errs, cliError("SNAPSHOT_LOG_FORMAT", v))
		}
	}
	return slog.New(h), errors.Join(errs...)
}

func cliError(env, value string) *pgsnap.ConfigError {
	for _, s := range cliSettings {
		if s.Env == env {
			return &pgsnap.ConfigError{Setting: env, Flag: s.Flag, Value: fmt.Sprintf("%q", value), Want: s.Want}
		}
	}
	return &pgsnap.ConfigError{Setting: env, Value: fmt.Sprintf("%q", value)}
}

// unknownSettings warns about SNAPSHOT_* variables pgsnap does not know, naming the closest
// known one (a typo such as SNAPSHOT_RETENTON would otherwise be silently ignored).
func unknownSettings(environ []string) []string {
	known := map[string]bool{}
	var names []string
	for _, s := range append(pgsnap.Settings(), cliSettings...) {
		known[s.Env] = true
		names = append(names, s.Env)
	}
	known["SNAPSHOT_RESTORE_URL"] = true
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "SNAPSHOT_") || known[name] {
			continue
		}
		best, dist := "", 1<<30
		for _, n := range names {
			if d := editDistance(name, n); d < dist {
				best, dist = n, d
			}
		}
		msg := fmt.Sprintf("unknown setting %s is ignored", name)
		if dist <= 3 {
			msg += fmt.Sprintf(" (did you mean %s?)", best)
		}
		out = append(out, msg)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
