package main

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/pgsnap/pgsnap"
)

// stores is what the settings say about where snapshots are, for the commands that read them
// across targets (list, status) without connecting to any database.
type stores struct {
	shelves []*pgsnap.Shelf   // one per distinct set of destinations
	configs []pgsnap.Config   // the configuration of every target (and server) named
	file    bool              // the settings come from a configuration file
	target  string            // the target asked about: --target, or DATABASE_URL's ("" for every one)
	http    pgsnap.Config     // whose SNAPSHOT_HTTP_* reach the daemon
	servers map[string]string // a server's target prefix ("db2.") -> its name
}

// fleetConfigs is every configuration of a file: its targets', then its servers'.
func fleetConfigs(fc pgsnap.FleetConfig) []pgsnap.Config {
	cfgs := slices.Clone(fc.Targets)
	for _, srv := range fc.Servers {
		cfgs = append(cfgs, srv.Config)
	}
	return cfgs
}

// openStores loads the settings and opens a Shelf on each distinct set of destinations: one
// for plain settings; with a configuration file, one per set its targets and servers name
// (a server's databases are not listed: nothing connects).
func (a *app) openStores() (*stores, error) {
	st := &stores{servers: map[string]string{}}
	explicit, _ := a.lookup("SNAPSHOT_TARGET")
	if path, ok := a.lookup("SNAPSHOT_CONFIG"); ok && path != "" {
		a.warnFlagPasswords()
		fc, err := pgsnap.LoadFleetConfig(path, a.lookupWithout("SNAPSHOT_TARGET"))
		if err != nil {
			return nil, usageError{err}
		}
		st.file, st.target, st.configs = true, explicit, fleetConfigs(fc)
		for _, srv := range fc.Servers {
			st.servers[srv.Name+"."] = srv.Name
		}
		a.warnConfig(st.configs...)
	} else {
		cfg, err := a.config(false)
		if err != nil {
			return nil, err
		}
		st.configs = []pgsnap.Config{cfg}
		st.target, _ = cfg.TargetName() // "" without DATABASE_URL and SNAPSHOT_TARGET: every target
	}
	st.http = st.configs[0]
	seen := map[string]bool{}
	for _, cfg := range st.configs {
		key := strings.Join([]string{cfg.Dir, cfg.S3.URL, cfg.S3.Endpoint}, "\x00")
		if seen[key] {
			continue
		}
		seen[key] = true
		sh, err := pgsnap.Open(cfg, pgsnap.WithLogger(a.log))
		if err != nil {
			return nil, err
		}
		st.shelves = append(st.shelves, sh)
	}
	return st, nil
}

// list returns every snapshot of every store, newest first: a snapshot that several stores
// hold is listed once, with all of its copies. Only the target asked about, when narrowed.
func (st *stores) list(ctx context.Context, narrow string) ([]pgsnap.Snapshot, error) {
	byName := map[string]int{}
	var out []pgsnap.Snapshot
	for _, sh := range st.shelves {
		snaps, err := sh.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, sn := range snaps {
			if narrow != "" && sn.Target != narrow {
				continue
			}
			i, dup := byName[sn.Name]
			if !dup {
				byName[sn.Name] = len(out)
				out = append(out, sn)
				continue
			}
			merged := &out[i]
			for _, d := range sn.StoredIn {
				if !slices.Contains(merged.StoredIn, d) {
					merged.StoredIn = append(merged.StoredIn, d)
				}
			}
			for _, d := range sn.Missing {
				if !slices.Contains(merged.Missing, d) {
					merged.Missing = append(merged.Missing, d)
				}
			}
			merged.Missing = slices.DeleteFunc(merged.Missing, func(d string) bool { return slices.Contains(merged.StoredIn, d) })
		}
	}
	slices.SortStableFunc(out, func(x, y pgsnap.Snapshot) int { return y.Time().Compare(x.Time()) })
	return out, nil
}

// configFor is the configuration target's snapshots are judged by: a file target's own, its
// server's, or the settings'.
func (st *stores) configFor(target string) pgsnap.Config {
	for _, cfg := range st.configs {
		if cfg.Target == target {
			return cfg
		}
	}
	cfg := st.configs[0]
	for prefix, name := range st.servers { // db2.app and db2.globals are server db2's
		if !strings.HasPrefix(target, prefix) {
			continue
		}
		for _, c := range st.configs {
			if c.Target == name {
				cfg = c
			}
		}
	}
	cfg.Target = target
	return cfg
}

// targets lists the targets with a snapshot in snaps, in name order; just the one asked
// about when there is one.
func (st *stores) targets(snaps []pgsnap.Snapshot) []string {
	if st.target != "" {
		return []string{st.target}
	}
	var out []string
	for _, sn := range snaps {
		if !slices.Contains(out, sn.Target) {
			out = append(out, sn.Target)
		}
	}
	slices.SortFunc(out, cmp.Compare)
	return out
}
