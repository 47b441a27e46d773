package export

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pgsnap/pgsnap/internal/catalog"
)

// ErrBadName is wrapped by the errors of ParseName and ParseSchema: a name that does not parse.
var ErrBadName = errors.New("bad name")

// Name is a table's schema and name, unquoted, as an archive's table of contents has them.
// Schema "" stands for any schema that alone has a table of that name.
type Name struct {
	Schema string
	Name   string
}

// ParseName reads "schema.table" or "table" as a user types it. A part in double quotes is
// taken as it is between them ("" for a quote): "Odd Schema"."Weird ""Table""". An unquoted
// part is also taken as it is, case included: it names what the snapshot holds, and an unknown
// name gets the close names the snapshot has.
func ParseName(s string) (Name, error) {
	parts, err := splitIdents(s)
	if err != nil {
		return Name{}, fmt.Errorf("%w: table %q: %w", ErrBadName, s, err)
	}
	switch len(parts) {
	case 1:
		return Name{Name: parts[0]}, nil
	case 2:
		return Name{Schema: parts[0], Name: parts[1]}, nil
	}
	return Name{}, fmt.Errorf("%w: table %q: want schema.table (quote a name holding a dot: \"a.b\")", ErrBadName, s)
}

// ParseSchema reads a schema name as ParseName reads a part.
func ParseSchema(s string) (string, error) {
	parts, err := splitIdents(s)
	if err != nil {
		return "", fmt.Errorf("%w: schema %q: %w", ErrBadName, s, err)
	}
	if len(parts) != 1 {
		return "", fmt.Errorf("%w: schema %q: want one name (quote a name holding a dot: \"a.b\")", ErrBadName, s)
	}
	return parts[0], nil
}

// splitIdents splits s at the dots outside double quotes and unquotes each part.
func splitIdents(s string) ([]string, error) {
	var parts []string
	var b strings.Builder
	quoted, inQuotes := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuotes && c == '"' && i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case inQuotes && c == '"':
			inQuotes = false
		case inQuotes:
			b.WriteByte(c)
		case c == '"' && b.Len() == 0 && !quoted:
			inQuotes, quoted = true, true
		case c == '.':
			if b.Len() == 0 && !quoted {
				return nil, errors.New("empty name")
			}
			parts = append(parts, b.String())
			b.Reset()
			quoted = false
		case quoted:
			return nil, fmt.Errorf("%q after a quoted name", c)
		default:
			b.WriteByte(c)
		}
	}
	if inQuotes {
		return nil, errors.New("unterminated quote")
	}
	if b.Len() == 0 && !quoted {
		return nil, errors.New("empty name")
	}
	return append(parts, b.String()), nil
}

// String is the name as people read it: schema.table, each part quoted only when it must be.
func (n Name) String() string {
	if n.Schema == "" {
		return Ident(n.Name)
	}
	return Ident(n.Schema) + "." + Ident(n.Name)
}

// Key is the name as a manifest's rows have it: "schema"."table".
func (n Name) Key() string { return catalog.RowsKey(n.Schema, n.Name) }

// Ident quotes a name when it is not a plain lower-case identifier.
func Ident(s string) string {
	plain := s != ""
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '$')) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// parseKey reads a manifest's rows key, "schema"."table", back into a Name.
func parseKey(key string) (Name, bool) {
	parts, err := splitIdents(key)
	if err != nil || len(parts) != 2 || !strings.HasPrefix(key, `"`) {
		return Name{}, false
	}
	return Name{Schema: parts[0], Name: parts[1]}, true
}
