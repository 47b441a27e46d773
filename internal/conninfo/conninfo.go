// Package conninfo parses PostgreSQL connection strings, in the URL form
// (postgres://user:pass@host:port/db?key=value) and the keyword/value form
// (host=h port=5432 dbname=db), and keeps the password out of every printed form.
//
// An Info prints itself redacted through String, GoString, LogValue and MarshalJSON. The
// password is available only through Password, and KeywordValue, the form handed to pg_dump
// on its command line, never contains it.
package conninfo

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
)

// mask replaces the password in every printed form.
const mask = "xxxxx"

// form is how the connection string was written; Redacted keeps it.
type form uint8

const (
	formNone form = iota
	formURL
	formKeyword
)

// pair is one libpq keyword and its value.
type pair struct {
	key, value string
}

// secret holds the password behind a pointer: fmt prints a pointer nested in a struct as an
// address, so even an Info kept in an unexported field of a printed struct shows no password.
// A secret is never modified; With makes a new one.
type secret struct {
	s string
}

// Info is a parsed connection string: libpq keywords and values, the password kept apart.
// The zero Info is empty. An Info is immutable: With and Without return changed copies, so
// it is safe to share between goroutines.
type Info struct {
	pairs  []pair // in the order first written, password excluded
	pw     *secret
	form   form
	scheme string // "postgres" or "postgresql" for the URL form
}

// Password returns the password, or "" when there is none.
func (i Info) Password() string {
	if i.pw == nil {
		return ""
	}
	return i.pw.s
}

// HasPassword reports whether the connection string carries a non-empty password. libpq
// treats an empty password as none and falls back to PGPASSWORD and the password file.
func (i Info) HasPassword() bool {
	return i.Password() != ""
}

// Get returns the value of a libpq keyword, or "" when it is unset. Get("password") returns
// "": the password is only available through Password.
func (i Info) Get(keyword string) string {
	v, _ := i.lookup(keyword)
	return v
}

func (i Info) lookup(keyword string) (string, bool) {
	for _, p := range i.pairs {
		if p.key == keyword {
			return p.value, true
		}
	}
	return "", false
}

// Database returns the dbname keyword, or "" when it is unset.
func (i Info) Database() string {
	return i.Get("dbname")
}

// User returns the user keyword, or "" when it is unset.
func (i Info) User() string {
	return i.Get("user")
}

// With returns a copy with keyword set to value, replacing an earlier value in place.
// With("password", x) sets the password; an empty x removes it. keyword must be a libpq
// keyword (letters, digits and '_').
func (i Info) With(keyword, value string) Info {
	out := i
	if out.form == formNone {
		out.form = formKeyword
	}
	if keyword == "password" {
		out.pw = nil
		if value != "" {
			out.pw = &secret{s: value}
		}
		return out
	}
	out.pairs = make([]pair, 0, len(i.pairs)+1)
	found := false
	for _, p := range i.pairs {
		if p.key == keyword {
			p.value = value
			found = true
		}
		out.pairs = append(out.pairs, p)
	}
	if !found {
		out.pairs = append(out.pairs, pair{keyword, value})
	}
	return out
}

// Without returns a copy with keyword unset; Without("password") removes the password.
func (i Info) Without(keyword string) Info {
	out := i
	if keyword == "password" {
		out.pw = nil
		return out
	}
	out.pairs = make([]pair, 0, len(i.pairs))
	for _, p := range i.pairs {
		if p.key != keyword {
			out.pairs = append(out.pairs, p)
		}
	}
	return out
}

// IsZero reports whether i is the zero Info.
func (i Info) IsZero() bool {
	return len(i.pairs) == 0 && i.pw == nil && i.form == formNone
}

// KeywordValue returns the keyword/value form without the password, every value in single
// quotes with ' and \ escaped by a backslash, as libpq reads it:
// host='db.example' port='5432' dbname='app'. It is meant for pg_dump's --dbname, which puts
// it on the command line; the password goes to the child by other means.
func (i Info) KeywordValue() string {
	var b strings.Builder
	for n, p := range i.pairs {
		if n > 0 {
			b.WriteByte(' ')
		}
		writeKeywordValue(&b, p.key, p.value)
	}
	return b.String()
}

func writeKeywordValue(b *strings.Builder, key, value string) {
	b.WriteString(key)
	b.WriteString("='")
	for k := 0; k < len(value); k++ {
		if c := value[k]; c == '\'' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(value[k])
	}
	b.WriteByte('\'')
}

// Redacted returns the connection string in the form it was written (URL or keyword/value),
// with the password replaced by "xxxxx". The text is rebuilt from the parsed values, so
// quoting and percent-encoding may differ from the input; it parses to the same values.
func (i Info) Redacted() string {
	i = i.maskSecretKeywords()
	switch i.form {
	case formURL:
		return i.redactedURL()
	case formNone:
		if len(i.pairs) == 0 && i.pw == nil {
			return ""
		}
	}
	kv := i.KeywordValue()
	if !i.HasPassword() {
		return kv
	}
	if kv != "" {
		kv += " "
	}
	return kv + "password='" + mask + "'"
}

// maskSecretKeywords masks the values of keywords other than password that hold secrets
// (sslpassword), in a copy.
func (i Info) maskSecretKeywords() Info {
	var pairs []pair
	for n, p := range i.pairs {
		if strings.Contains(p.key, "password") && p.value != "" {
			if pairs == nil {
				pairs = slices.Clone(i.pairs)
			}
			pairs[n].value = mask
		}
	}
	if pairs != nil {
		i.pairs = pairs
	}
	return i
}

// String returns Redacted.
func (i Info) String() string {
	return i.Redacted()
}

// GoString returns a redacted Go-syntax form, so %#v shows no password.
func (i Info) GoString() string {
	return "conninfo.Info(" + strconv.Quote(i.Redacted()) + ")"
}

// LogValue returns the redacted string for log/slog.
func (i Info) LogValue() slog.Value {
	return slog.StringValue(i.Redacted())
}

// MarshalJSON encodes the redacted string as a JSON string.
func (i Info) MarshalJSON() ([]byte, error) {
	return json.Marshal(i.Redacted())
}

// ConnString returns a connection string (keyword/value form) that parses back to i, password
// included: for deriving one connection string from another in memory. Never log it or put it
// on a command line.
func (i Info) ConnString() string {
	s := i.KeywordValue()
	if i.pw != nil {
		var b strings.Builder
		b.WriteString(s)
		if s != "" {
			b.WriteByte(' ')
		}
		writeKeywordValue(&b, "password", i.pw.s)
		s = b.String()
	}
	return s
}
