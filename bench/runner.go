package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// result is what one command's timed runs gave, or why it has none.
type result struct {
	key, label string
	samples    []sample
	err        error
}

// alternate runs the commands in rounds: round 0 is the warm-up (discarded), then pairs
// timed rounds. Every round runs each command once in the given order, so any two of them
// alternate A B A B, and each sample records its round, so ratios pair runs of the same round.
// A command that fails is reported with its error and left out of later rounds; the others go
// on. Only a cancelled ctx stops everything, returning its error. The last round's outputs of
// commands marked keep are kept for later steps (restores read the snapshots). server, when
// set, reads the server's CPU time around each run.
func alternate(ctx context.Context, log *slog.Logger, vs []*variant, pairs int, server func() (time.Duration, error)) ([]result, error) {
	results := make([]result, len(vs))
	for i, v := range vs {
		results[i] = result{key: v.key, label: v.label}
	}
	for round := 0; round <= pairs; round++ {
		for i, v := range vs {
			if results[i].err != nil {
				continue
			}
			s, err := runOnce(ctx, v, round == pairs && v.keep, server)
			if ctx.Err() != nil {
				return results, ctx.Err()
			}
			if err != nil {
				results[i].err = err
				results[i].samples = nil
				log.Warn("command failed; leaving it out", "command", v.label, "round", round, "err", err)
				continue
			}
			if round == 0 {
				log.Info("warm-up", "command", v.label, "wall", s.wall.Round(time.Millisecond))
				continue
			}
			s.round = round
			results[i].samples = append(results[i].samples, s)
			log.Info("timed", "command", v.label, "round", round, "wall", s.wall.Round(time.Millisecond),
				"cpu", s.cpu.Round(time.Millisecond), "server_cpu", s.serverCPU.Round(time.Millisecond),
				"max_rss_mib", s.maxRSS>>20, "size", formatBytes(float64(s.size)))
		}
	}
	return results, nil
}

// runOnce prepares, runs and (unless keep) cleans up one command. The server's CPU is read
// just before and after the run, outside its timing.
func runOnce(ctx context.Context, v *variant, keep bool, server func() (time.Duration, error)) (sample, error) {
	if err := v.prepare(ctx); err != nil {
		return sample{}, fmt.Errorf("prepare: %w", err)
	}
	var before time.Duration
	berr := errors.New("no server meter")
	if server != nil {
		before, berr = server()
	}
	s, err := v.run(ctx)
	s.serverCPU = -1
	if berr == nil {
		if after, aerr := server(); aerr == nil && after >= before {
			s.serverCPU = after - before
		}
	}
	if err != nil || !keep {
		if cerr := v.clean(); cerr != nil && err == nil {
			err = fmt.Errorf("clean up: %w", cerr)
		}
	}
	return s, err
}

// errorText is an error as one table cell: one line, bounded, no pipe characters.
func errorText(err error) string {
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if r := []rune(msg); len(r) > 300 {
		msg = string(r[:300]) + "…"
	}
	return strings.ReplaceAll(msg, "|", "\\|")
}

// find returns the result with the given key, or nil.
func find(results []result, key string) *result {
	for i := range results {
		if results[i].key == key {
			return &results[i]
		}
	}
	return nil
}
