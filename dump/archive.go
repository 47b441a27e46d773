package dump

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
)

// List runs `pg_restore --list` on a custom-format archive read from r and returns its table of
// contents. pg_restore stops reading after the table of contents, so only the start of r is
// read. A damaged or foreign archive is an *ExitError.
func List(ctx context.Context, bin Binary, r io.Reader) ([]byte, error) {
	if bin.Path == "" {
		return nil, errors.New("list archive: no pg_restore binary: use Find")
	}
	var out bytes.Buffer
	j := job{tool: toolName(bin, "pg_restore"), path: bin.Path, args: []string{"--list"}, stdin: r}
	_, err := j.run(ctx, &out)
	return out.Bytes(), err
}

// ReadAll runs `pg_restore --file=/dev/null` on a custom-format archive read from r: pg_restore
// reads and decodes every data block, writing the SQL nowhere, so a damaged block fails it (an
// *ExitError naming what pg_restore could not read).
func ReadAll(ctx context.Context, bin Binary, r io.Reader, logger *slog.Logger) error {
	if bin.Path == "" {
		return errors.New("read archive: no pg_restore binary: use Find")
	}
	j := job{tool: toolName(bin, "pg_restore"), path: bin.Path, args: []string{"--exit-on-error", "--file=/dev/null"}, stdin: r, logger: logger}
	_, err := j.run(ctx, nil)
	return err
}
