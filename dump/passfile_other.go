//go:build !linux

package dump

import (
	"errors"
	"os"
)

// memfdFile is Linux-only; elsewhere the passfile is a temporary file.
func memfdFile([]byte) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
