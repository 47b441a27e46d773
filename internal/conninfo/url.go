package conninfo

import (
	"strings"
)

// netlocKeys are the keywords the URL form writes before the query when it can.
var netlocKeys = [...]string{"user", "host", "port", "dbname"}

// redactedURL rebuilds the URL form with the password masked. Values that have no place in
// the authority or path (an empty user, host lists that do not pair with port lists) go to the
// query, so that the result parses to the same keywords.
func (i Info) redactedURL() string {
	scheme := i.scheme
	if scheme == "" {
		scheme = "postgres"
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")

	inQuery := map[string]bool{}
	user, hasUser := i.lookup("user")
	if hasUser && user == "" {
		inQuery["user"] = true
	}
	if (hasUser && user != "") || i.HasPassword() {
		if user != "" {
			b.WriteString(escape(user, unreserved))
		}
		if i.HasPassword() {
			b.WriteString(":" + mask)
		}
		b.WriteByte('@')
	}

	host, hasHost := i.lookup("host")
	port, hasPort := i.lookup("port")
	if netloc, ok := renderNetloc(host, hasHost, port, hasPort); ok {
		b.WriteString(netloc)
	} else {
		inQuery["host"], inQuery["port"] = hasHost, hasPort
	}

	if db, ok := i.lookup("dbname"); ok && db != "" {
		b.WriteByte('/')
		b.WriteString(escape(db, unreserved))
	} else if ok {
		inQuery["dbname"] = true
	}

	sep := byte('?')
	for _, p := range i.pairs {
		if isNetlocKey(p.key) && !inQuery[p.key] {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(escape(p.key, unreserved))
		b.WriteByte('=')
		b.WriteString(escape(p.value, unreserved))
	}
	return b.String()
}

func isNetlocKey(k string) bool {
	for _, n := range netlocKeys {
		if k == n {
			return true
		}
	}
	return false
}

// renderNetloc writes "h1:p1,h2:p2", or reports false when host and port cannot be written
// there so that they parse back the same (empty lists, or port and host counts that differ).
func renderNetloc(host string, hasHost bool, port string, hasPort bool) (string, bool) {
	hosts := []string{""}
	if hasHost {
		hosts = strings.Split(host, ",")
		if allEmpty(hosts) {
			return "", false
		}
	}
	var ports []string
	if hasPort {
		ports = strings.Split(port, ",")
		if allEmpty(ports) || len(ports) != len(hosts) {
			return "", false
		}
	}
	var b strings.Builder
	for n, h := range hosts {
		if n > 0 {
			b.WriteByte(',')
		}
		if strings.IndexByte(h, ':') >= 0 {
			b.WriteByte('[')
			b.WriteString(escape(h, func(c byte) bool { return c == ':' || unreserved(c) }))
			b.WriteByte(']')
		} else {
			b.WriteString(escape(h, unreserved))
		}
		if ports != nil && ports[n] != "" {
			b.WriteByte(':')
			b.WriteString(escape(ports[n], unreserved))
		}
	}
	return b.String(), true
}

func allEmpty(list []string) bool {
	for _, s := range list {
		if s != "" {
			return false
		}
	}
	return true
}

// unreserved reports the characters RFC 3986 never requires to be percent-encoded.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// escape percent-encodes every byte of s for which keep is false.
func escape(s string, keep func(byte) bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for k := 0; k < len(s); k++ {
		c := s[k]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// unescape decodes %XX sequences; ok is false for a '%' not followed by two hex digits.
func unescape(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	var b strings.Builder
	for k := 0; k < len(s); k++ {
		if s[k] != '%' {
			b.WriteByte(s[k])
			continue
		}
		if k+2 >= len(s) {
			return "", false
		}
		hi, ok1 := unhex(s[k+1])
		lo, ok2 := unhex(s[k+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b.WriteByte(hi<<4 | lo)
		k += 2
	}
	return b.String(), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
