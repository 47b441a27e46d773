package conninfo

import (
	"sort"
	"strings"
)

// Redact masks the password in a raw connection string even when it does not parse. A string
// that parses comes back as its Redacted form. Otherwise Redact masks, erring on the side of
// hiding too much: after a "://", everything from the next ':' up to the last '@' of the
// string, or from the "://" itself when the user information or host is malformed (see
// Parse: the user name may then hold pieces of the password), and in any form, everything
// after a password= keyword or query parameter (its value may be badly quoted, so where it
// ends is unknown). It never returns the password.
func Redact(s string) string {
	if i, err := Parse(s); err == nil {
		return i.Redacted()
	}
	return redactRaw(s)
}

// redactRaw is Redact without the attempt to parse; Parse's errors use it.
func redactRaw(s string) string {
	return maskSpans(s, secretSpans(s))
}

// secretSpans returns the sorted, disjoint byte ranges [from, to) that redactRaw masks.
func secretSpans(s string) [][2]int {
	var spans [][2]int // byte ranges to mask, end exclusive
	// Anything before the first "://" is taken as a scheme, so that junk in front of a URL
	// does not hide its user information from the masking.
	if idx := strings.Index(s, "://"); idx >= 0 {
		start := idx + len("://")
		// An unencoded '@', '/' or '?' in the password moves where a parser would end the user
		// information; the last '@' of the whole string is past all of them.
		if at := strings.LastIndexByte(s, '@'); at > start {
			if len(urlProblems(s[start:])) > 0 {
				spans = append(spans, [2]int{start, at})
			} else if c := strings.IndexByte(s[start:at], ':'); c >= 0 {
				spans = append(spans, [2]int{start + c + 1, at})
			}
		}
		if from, ok := passwordParam(s, start); ok {
			spans = append(spans, [2]int{from, len(s)})
		}
	}
	if from, ok := passwordKeyword(s); ok {
		spans = append(spans, [2]int{from, len(s)})
	}
	return mergeSpans(spans)
}

// passwordParam finds the first query parameter after start whose name, leniently decoded,
// contains "password", and returns where its value begins.
func passwordParam(s string, start int) (int, bool) {
	q := strings.IndexByte(s[start:], '?')
	if q < 0 {
		return 0, false
	}
	pos := start + q + 1
	for pos <= len(s) {
		end := strings.IndexByte(s[pos:], '&')
		if end < 0 {
			end = len(s) - pos
		}
		param := s[pos : pos+end]
		if name, _, ok := strings.Cut(param, "="); ok {
			decoded, valid := unescape(name)
			if !valid {
				decoded = name
			}
			if strings.Contains(asciiLower(decoded), "password") {
				return pos + len(name) + 1, true
			}
		}
		pos += end + 1
	}
	return 0, false
}

// passwordKeyword finds the first "password" (any case) followed by optional white space and
// '=', and returns where its value begins.
func passwordKeyword(s string) (int, bool) {
	lower := asciiLower(s)
	for from := 0; ; {
		k := strings.Index(lower[from:], "password")
		if k < 0 {
			return 0, false
		}
		p := from + k + len("password")
		for p < len(s) && isSpace(s[p]) {
			p++
		}
		if p < len(s) && s[p] == '=' {
			return p + 1, true
		}
		from += k + 1
	}
}

// mergeSpans sorts spans and merges overlapping ones, dropping empty ones.
func mergeSpans(spans [][2]int) [][2]int {
	sort.Slice(spans, func(a, b int) bool { return spans[a][0] < spans[b][0] })
	var merged [][2]int
	for _, sp := range spans {
		if sp[1] <= sp[0] {
			continue
		}
		if n := len(merged); n > 0 && sp[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], sp[1])
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// maskSpans replaces each of the disjoint, sorted spans with the mask.
func maskSpans(s string, spans [][2]int) string {
	var b strings.Builder
	pos := 0
	for _, sp := range spans {
		b.WriteString(s[pos:sp[0]])
		b.WriteString(mask)
		pos = sp[1]
	}
	b.WriteString(s[pos:])
	return b.String()
}

// asciiLower lowers ASCII letters only, so that byte offsets stay valid (strings.ToLower
// rewrites invalid UTF-8 and may change the length).
func asciiLower(s string) string {
	b := []byte(s)
	for k, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[k] = c + 'a' - 'A'
		}
	}
	return string(b)
}
