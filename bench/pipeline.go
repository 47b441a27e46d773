package main

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
)

// stage is one program of a pipeline.
type stage struct {
	bin  string
	args []string
}

// pipeMeasured is one run of a two-program pipeline.
type pipeMeasured struct {
	wall   time.Duration
	cpu    [2]time.Duration // each program's own rusage: producer, consumer
	maxRSS int64            // the larger of the two peaks, bytes
}

// measurePipeline runs `producer | consumer > out` as two processes joined by a pipe the
// harness makes (no shell), and times it. Wall time runs from the start of the producer to
// the exit of both. Each program is a child of the harness, so wait4 gives each its own
// rusage: the report adds the two for the pipeline's CPU, keeps them apart for the per-stage
// figures, and takes the larger peak RSS. The pipe and the output file are handed to the
// children as file descriptors; no byte passes through the harness.
func measurePipeline(ctx context.Context, env []string, dir, out string, producer, consumer stage) (pipeMeasured, error) {
	var m pipeMeasured
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return m, fmt.Errorf("pipeline output: %w", err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return m, fmt.Errorf("pipeline: %w", err)
	}
	p, perr := newCommand(ctx, env, dir, producer.bin, producer.args...)
	p.Stdout = w
	c, cerr := newCommand(ctx, env, dir, consumer.bin, consumer.args...)
	c.Stdin = r
	c.Stdout = f

	began := time.Now()
	if err := p.Start(); err != nil {
		r.Close()
		w.Close()
		return m, fmt.Errorf("start %s: %w", producer.bin, err)
	}
	if err := c.Start(); err != nil {
		r.Close()
		w.Close()
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
		_ = p.Wait()
		return m, fmt.Errorf("start %s: %w", consumer.bin, err)
	}
	// Only the children hold the pipe now: the consumer sees EOF when the producer exits, and
	// the producer a broken pipe if the consumer dies.
	r.Close()
	w.Close()
	pwait, cwait := p.Wait(), c.Wait()
	m.wall = time.Since(began)
	var prss, crss int64
	m.cpu[0], prss = usage(p)
	m.cpu[1], crss = usage(c)
	m.maxRSS = max(prss, crss)
	if err := f.Close(); err != nil && pwait == nil && cwait == nil {
		return m, fmt.Errorf("pipeline output: %w", err)
	}
	// When the consumer failed, the producer's failure (a broken pipe) only echoes it.
	if err := runError(ctx, c, cerr.String(), cwait); err != nil {
		return m, err
	}
	return m, runError(ctx, p, perr.String(), pwait)
}
