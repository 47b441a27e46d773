package archive

import (
	"bytes"
	"strings"
)

// endMarker is what pg_dump writes after a table's COPY rows (dumpTableData_copy): the end of
// data line "\." and two empty lines. No row can look like it, since COPY text escapes a
// backslash in a value as "\\".
const endMarker = "\\.\n\n\n"

// tail keeps the last bytes of a table's data: the end marker and the byte before it.
type tail struct {
	b [len(endMarker) + 1]byte
	n int64 // bytes seen
}

func (t *tail) add(p []byte) {
	if k := len(p); k >= len(t.b) {
		copy(t.b[:], p[k-len(t.b):])
	} else {
		copy(t.b[:], t.b[k:])
		copy(t.b[len(t.b)-k:], p)
	}
	t.n += int64(len(p))
}

// copyRows turns the newline count of a table's COPY text into its row count: every row ends
// with a newline, and the end marker, when present, adds three. ok is false when the text
// does not end with a whole row.
func copyRows(lines int64, t *tail) (rows int64, ok bool) {
	seen := t.b[len(t.b)-int(min(t.n, int64(len(t.b)))):]
	switch {
	case t.n == 0:
		return 0, true
	case bytes.HasSuffix(seen, []byte(endMarker)) && (t.n == int64(len(endMarker)) || seen[0] == '\n'):
		return lines - int64(strings.Count(endMarker, "\n")), true
	case seen[len(seen)-1] == '\n':
		// pg_dump has always written the marker; a table without it is counted line by line.
		return lines, true
	}
	return 0, false
}
