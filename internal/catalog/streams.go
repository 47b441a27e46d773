package catalog

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"iter"
	"maps"
)

// CorruptError reports a snapshot whose stored bytes do not match its manifest, or that do not
// decode.
type CorruptError struct {
	Name   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("snapshot %s is corrupt: %s", e.Name, e.Reason)
}

// contextReader stops a long read when ctx ends.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// progressReader counts bytes read through it into a Progress.
type progressReader struct {
	r io.Reader
	p Progress
}

func (pr progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.Add(int64(n))
	return n, err
}

// writeTagger marks errors of its writer, to tell them from the reader's in io.Copy.
type writeTagger struct{ w io.Writer }

func (t writeTagger) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func mapsKeys[M ~map[K]V, K comparable, V any](m M) iter.Seq[K] { return maps.Keys(m) }

func cmpOr(a, b string) string { return cmp.Or(a, b) }

func mapsValues[M ~map[K]V, K comparable, V any](m M) iter.Seq[V] { return maps.Values(m) }
