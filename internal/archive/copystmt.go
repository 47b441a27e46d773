package archive

import (
	"errors"
	"fmt"
	"strings"
)

// copyColumns returns the column names of a TABLE DATA entry's COPY statement, unquoted, as
// pg_dump writes it (dumpTableData in pg_dump.c):
//
//	COPY public.t (a, "B c", "x""y") FROM stdin;
//
// The table is schema-qualified, each identifier is quoted as fmtId quotes it (double quotes,
// a double quote inside doubled), and a table without columns has no list at all:
// "COPY public.t  FROM stdin;".
func copyColumns(stmt string) ([]string, error) {
	rest, ok := strings.CutPrefix(stmt, "COPY ")
	if !ok {
		return nil, fmt.Errorf("%q does not start with COPY", abbrev(stmt))
	}
	var err error
	for { // the table: identifiers joined by dots
		if _, rest, err = cutIdent(rest); err != nil {
			return nil, fmt.Errorf("table name in %q: %w", abbrev(stmt), err)
		}
		var dot bool
		if rest, dot = strings.CutPrefix(rest, "."); !dot {
			break
		}
	}
	rest = strings.TrimLeft(rest, " ")
	cols := []string{}
	if list, ok := strings.CutPrefix(rest, "("); ok {
		rest = list
		for {
			var name string
			if name, rest, err = cutIdent(strings.TrimLeft(rest, " ")); err != nil {
				return nil, fmt.Errorf("column %d in %q: %w", len(cols)+1, abbrev(stmt), err)
			}
			cols = append(cols, name)
			rest = strings.TrimLeft(rest, " ")
			if next, ok := strings.CutPrefix(rest, ","); ok {
				rest = next
				continue
			}
			if next, ok := strings.CutPrefix(rest, ")"); ok {
				rest = strings.TrimLeft(next, " ")
				break
			}
			return nil, fmt.Errorf("column list in %q does not go on with a comma or end", abbrev(stmt))
		}
	}
	if !strings.HasPrefix(rest, "FROM stdin;") {
		return nil, fmt.Errorf("%q does not end with FROM stdin;", abbrev(stmt))
	}
	return cols, nil
}

// cutIdent cuts an SQL identifier from the start of s: a quoted one, whose doubled quotes stand
// for one, or an unquoted one, which PostgreSQL folds to lower case.
func cutIdent(s string) (ident, rest string, err error) {
	if q, ok := strings.CutPrefix(s, `"`); ok {
		var b strings.Builder
		for {
			i := strings.IndexByte(q, '"')
			if i < 0 {
				return "", "", errors.New("quoted identifier does not end")
			}
			b.WriteString(q[:i])
			q = q[i+1:]
			if !strings.HasPrefix(q, `"`) {
				break
			}
			b.WriteByte('"')
			q = q[1:]
		}
		if b.Len() == 0 {
			return "", "", errors.New("empty quoted identifier")
		}
		return b.String(), q, nil
	}
	end := strings.IndexAny(s, " .,()\"\t\n;")
	if end < 0 {
		end = len(s)
	}
	if end == 0 {
		return "", "", errors.New("no identifier")
	}
	return asciiLower(s[:end]), s[end:], nil
}

// asciiLower folds ASCII letters to lower case, as PostgreSQL's downcase_identifier does for
// unquoted identifiers (pg_dump only leaves lower-case ones unquoted).
func asciiLower(s string) string {
	for i := range len(s) {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// abbrev shortens a statement for an error message.
func abbrev(s string) string {
	const limit = 200
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
