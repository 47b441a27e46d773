package conninfo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// acceptedForms ends the errors that are about the shape of the whole string.
const acceptedForms = "want postgres://user:pass@host:port/db?… or key=value pairs"

// Parse parses a connection string in the URL form (postgres:// or postgresql://) or the
// keyword/value form, following libpq's rules:
//
//   - URL: postgres://user:password@host:port,host2:port2/dbname?keyword=value&…, with
//     [::1]:5432 for IPv6, the path as dbname, query parameters as keywords and
//     percent-decoding in every part. A password with reserved characters must be
//     percent-encoded. A repeated keyword replaces the earlier value; ssl=true means
//     sslmode=require.
//   - Keyword/value: keyword = value pairs separated by white space; a value is single-quoted
//     when it holds spaces, and \' and \\ escape a quote and a backslash.
//
// Parse rejects an empty string, other schemes, bad percent-encoding, malformed pairs and
// unterminated quotes. Like libpq it rejects keywords and URL query parameters it does not
// know (see libpqKeywords) and checks the values libpq checks before connecting: ports
// (1-65535, in lists too), sslmode and the other enumerated settings, integers such as
// connect_timeout. libpq's requiressl is read as sslmode.
//
// A URL whose user information or host cannot be what its author meant is rejected too: a
// raw '#' or space there, a second '@' before the host, an '@' after the host's end when a
// password may be before it (a raw '/' or '?' in the password ends the host early), a port
// that does not parse. Such a URL is shown with everything between "://" and its last '@'
// masked, and the error asks for the password to be percent-encoded.
//
// Its errors never contain the password: they name the part at fault, show the string only
// through Redact, and neither name nor quote what follows a password in the string (an
// unquoted space or unencoded '&' in it would make its tail look like more settings).
func Parse(s string) (Info, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return Info{}, errors.New("connection string contains a NUL byte")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return Info{}, errors.New("connection string is empty: " + acceptedForms)
	}
	var (
		i   Info
		err error
	)
	switch scheme, ok := schemeOf(s); {
	case ok && (scheme == "postgres" || scheme == "postgresql"):
		if err := checkURLShape(s, scheme); err != nil {
			return Info{}, err
		}
		i, err = parseURL(s, scheme)
	case ok:
		return Info{}, fmt.Errorf("connection string scheme %q is not supported: %s", truncate(scheme, 20), acceptedForms)
	default:
		i, err = parseKeywordValue(s)
	}
	if err != nil {
		return Info{}, err
	}
	return i, nil
}

// schemeOf returns the URL scheme when s starts with one followed by "://".
func schemeOf(s string) (string, bool) {
	end := strings.Index(s, "://")
	if end <= 0 {
		return "", false
	}
	for k := 0; k < end; k++ {
		c := s[k]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (k == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	return strings.ToLower(s[:end]), true
}

// validPorts accepts a comma-separated list whose entries are empty (the default port) or a
// decimal number in 1-65535.
func validPorts(list string) bool {
	for _, p := range strings.Split(list, ",") {
		if p == "" {
			continue
		}
		if len(p) > 5 || strings.TrimLeft(p, "0123456789") != "" {
			return false
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// set records keyword = value; a repeated keyword replaces the earlier value, as in libpq.
func (i *Info) set(key, value string) {
	*i = i.With(key, value)
}

// setChecked records a keyword written in the string, one knownKeyword accepts, after
// checking its value as libpq does. It returns what is wrong, "" when nothing is; the value
// is quoted only when show is true.
func (i *Info) setChecked(key, value string, show bool) (problem string) {
	key, value = canonical(key, value)
	if problem := checkValue(key, value, show); problem != "" {
		return problem
	}
	i.set(key, value)
	return ""
}

// validKeyword reports whether k looks like a libpq keyword. libpq itself allows anything
// up to white space or '=', but a keyword is written back unquoted, so only the characters
// real keywords use are accepted.
func validKeyword(k string) bool {
	if k == "" {
		return false
	}
	for n := 0; n < len(k); n++ {
		c := k[n]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// parseKeywordValue follows libpq's conninfo_parse. Its errors give offsets; they name a
// keyword and quote a value only before any password: after one, a stray word may be part
// of a badly quoted password.
func parseKeywordValue(s string) (Info, error) {
	i := Info{form: formKeyword}
	pos := 0
	afterSecret := false // past a password: what follows may be a piece of it
	for {
		for pos < len(s) && isSpace(s[pos]) {
			pos++
		}
		if pos == len(s) {
			return i, nil
		}
		start := pos
		for pos < len(s) && !isSpace(s[pos]) && s[pos] != '=' {
			pos++
		}
		key := s[start:pos]
		for pos < len(s) && isSpace(s[pos]) {
			pos++
		}
		if pos == len(s) || s[pos] != '=' {
			return Info{}, fmt.Errorf("connection string: missing \"=\" after the word at offset %d: %s", start, acceptedForms)
		}
		if !validKeyword(key) {
			return Info{}, fmt.Errorf("connection string: invalid keyword at offset %d: want letters, digits and '_'", start)
		}
		if !knownKeyword(key) {
			if afterSecret {
				return Info{}, fmt.Errorf("connection string: invalid connection option at offset %d (not shown: it follows a password, "+
					"which needs single quotes if it holds a space): want one of %s", start, acceptedKeywords)
			}
			return Info{}, fmt.Errorf("connection string: invalid connection option %q at offset %d: want one of %s",
				truncate(key, 40), start, acceptedKeywords)
		}
		pos++
		for pos < len(s) && isSpace(s[pos]) {
			pos++
		}
		var (
			value strings.Builder
			err   error
		)
		if pos < len(s) && s[pos] == '\'' {
			pos, err = readQuoted(s, pos, &value)
			if err != nil {
				return Info{}, err
			}
		} else {
			pos = readBare(s, pos, &value)
		}
		if problem := i.setChecked(key, value.String(), !afterSecret); problem != "" {
			return Info{}, fmt.Errorf("connection string: %s (keyword at offset %d)", problem, start)
		}
		afterSecret = afterSecret || isSecretKeyword(key)
	}
}

// readQuoted reads a single-quoted value starting at the quote and returns the offset after
// the closing quote.
func readQuoted(s string, pos int, value *strings.Builder) (int, error) {
	open := pos
	pos++
	for {
		switch {
		case pos >= len(s):
			return 0, fmt.Errorf("connection string: unterminated quoted string starting at offset %d", open)
		case s[pos] == '\\':
			pos++
			if pos < len(s) {
				value.WriteByte(s[pos])
				pos++
			}
		case s[pos] == '\'':
			return pos + 1, nil
		default:
			value.WriteByte(s[pos])
			pos++
		}
	}
}

// readBare reads an unquoted value up to white space; a backslash escapes the next byte.
func readBare(s string, pos int, value *strings.Builder) int {
	for pos < len(s) && !isSpace(s[pos]) {
		if s[pos] == '\\' {
			pos++
			if pos == len(s) {
				break
			}
		}
		value.WriteByte(s[pos])
		pos++
	}
	return pos
}
