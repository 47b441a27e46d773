//go:build !linux

package dump

import "io"

const pipeSize = 64 << 10

func growPipe(io.Reader) {}
