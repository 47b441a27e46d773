package archive

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// maxSuggestions bounds the close names an ErrNoTable error lists.
const maxSuggestions = 8

// otherSchema is what a table in another schema than the one asked for adds to its distance.
const otherSchema = 2

// findTable returns the TABLE DATA entry of schema.name; schema "" matches any schema when one
// only has such a table. An unknown table is an ErrNoTable error that lists close names.
func findTable(entries []*tocEntry, schema, name string) (*tocEntry, error) {
	var tables, matches []*tocEntry
	for _, e := range entries {
		if e.Desc != "TABLE DATA" {
			continue
		}
		tables = append(tables, e)
		if e.Tag == name && (schema == "" || e.Namespace == schema) {
			matches = append(matches, e)
		}
	}
	want := name
	if schema != "" {
		want = schema + "." + name
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
	default:
		var keys []string
		for _, e := range matches {
			keys = append(keys, e.Namespace+"."+e.Tag)
		}
		return nil, fmt.Errorf("%w: %s is ambiguous, name its schema: %s", ErrNoTable, want, strings.Join(keys, ", "))
	}
	msg := fmt.Sprintf("%s (the archive has data for %d tables)", want, len(tables))
	for _, e := range entries {
		if e.Desc == "TABLE" && e.Tag == name && (schema == "" || e.Namespace == schema) {
			msg = fmt.Sprintf("%s is there without data (a partitioned table's rows are in its partitions; pg_dump may have been told to leave a table's data out)", want)
			break
		}
	}
	if close := closeNames(tables, schema, name); len(close) > 0 {
		msg += "; close names: " + strings.Join(close, ", ")
	}
	return nil, fmt.Errorf("%w: %s", ErrNoTable, msg)
}

// closeNames returns the keys ("schema.name") of the tables whose names are close to the one
// asked for: a small edit distance (ignoring case), a shared prefix of four characters or more,
// or one name inside the other. The closest come first, those in the schema asked for before
// those in others.
func closeNames(tables []*tocEntry, schema, name string) []string {
	type scored struct {
		key  string
		dist int
	}
	want := strings.ToLower(name)
	limit := max(2, len([]rune(want))/3)
	var found []scored
	for _, e := range tables {
		got := strings.ToLower(e.Tag)
		d := editDistance(want, got)
		inside := len(want) >= 3 && len(got) >= 3 && (strings.Contains(got, want) || strings.Contains(want, got))
		if d > limit && commonPrefix(want, got) < min(4, len(want)) && !inside {
			continue
		}
		if schema != "" && e.Namespace != schema {
			d += otherSchema
		}
		found = append(found, scored{e.Namespace + "." + e.Tag, d})
	}
	slices.SortFunc(found, func(a, b scored) int {
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.key, b.key))
	})
	var keys []string
	for _, s := range found[:min(len(found), maxSuggestions)] {
		keys = append(keys, s.key)
	}
	return keys
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// commonPrefix returns the length in bytes of the prefix a and b share.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
