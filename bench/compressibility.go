package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// zstdLevel1 compresses the file at path with the zstd command at level 1 (zstd -1, as
// `pg_dump -Fc -Z0 | zstd -1 | wc -c` would) and returns the file's size and the compressed
// size. It calibrates the data set: realistic data compresses 3-6x, not 50x. Untimed. The
// zstd command, not a Go encoder, sets the reference: klauspost's fastest level leaves
// literal-only blocks (random hex) almost uncompressed, where zstd -1 halves them.
func zstdLevel1(ctx context.Context, path string) (size, compressed int64, err error) {
	bin, err := exec.LookPath("zstd")
	if err != nil {
		return 0, 0, errors.New("compressibility: no zstd command on PATH")
	}
	if size, err = fileSize(path); err != nil {
		return 0, 0, fmt.Errorf("compressibility: %w", err)
	}
	var out countWriter
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-1", "-T0", "-q", "-c", path)
	cmd.Stdout = &out
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("compressibility: zstd -1 %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	return size, out.n, nil
}

// countWriter counts what is written to it and discards it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
