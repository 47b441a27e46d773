package conninfo

import (
	"fmt"
	"strconv"
	"strings"
)

// urlError reports a problem with a URL-form string, quoting it only through redactRaw.
func urlError(s, problem string) error {
	return fmt.Errorf("connection URL %s: %s", strconv.Quote(redactRaw(s)), problem)
}

// decodePart percent-decodes one part of a URL. The error names the part, never its value.
func decodePart(s, raw, part string) (string, error) {
	v, ok := unescape(raw)
	switch {
	case !ok:
		return "", urlError(s, "invalid percent-encoding in "+part)
	case strings.IndexByte(v, 0) >= 0:
		return "", urlError(s, "percent-encoded NUL byte in "+part)
	}
	return v, nil
}

// parseURL parses postgres://[user[:password]@][netloc][/dbname][?keyword=value&…] as libpq
// does, except that the user information ends at the last '@' of the authority, so an
// unencoded '@' in a password still parses.
func parseURL(s, scheme string) (Info, error) {
	i := Info{form: formURL, scheme: scheme}
	rest := s[len(scheme)+len("://"):]
	authority := rest
	if end := strings.IndexAny(rest, "/?"); end >= 0 {
		authority, rest = rest[:end], rest[end:]
	} else {
		rest = ""
	}

	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		rawUser, rawPassword, hasPassword := strings.Cut(authority[:at], ":")
		authority = authority[at+1:]
		user, err := decodePart(s, rawUser, "user")
		if err != nil {
			return Info{}, err
		}
		if user != "" {
			i.set("user", user)
		}
		if hasPassword {
			pw, err := decodePart(s, rawPassword, "password")
			if err != nil {
				return Info{}, err
			}
			i.set("password", pw)
		}
	}
	if err := i.parseNetloc(s, authority); err != nil {
		return Info{}, err
	}

	path, query, _ := strings.Cut(rest, "?")
	if path != "" {
		db, err := decodePart(s, path[1:], "dbname")
		if err != nil {
			return Info{}, err
		}
		if db != "" {
			i.set("dbname", db)
		}
	}
	if err := i.parseQuery(s, query); err != nil {
		return Info{}, err
	}
	return i, nil
}

// parseNetloc reads "host1:port1,[::1]:port2,…" into the host and port keywords. A list whose
// entries are all empty sets nothing, as does an empty netloc.
func (i *Info) parseNetloc(s, netloc string) error {
	if netloc == "" {
		return nil
	}
	var hosts, ports []string
	for _, hp := range strings.Split(netloc, ",") {
		var rawHost, rawPort string
		if strings.HasPrefix(hp, "[") {
			end := strings.IndexByte(hp, ']')
			if end < 0 {
				return urlError(s, "unterminated IPv6 address: missing ']'")
			}
			rawHost, rawPort = hp[1:end], hp[end+1:]
			if rawPort != "" {
				if rawPort[0] != ':' {
					return urlError(s, "unexpected text after IPv6 address: want [address]:port")
				}
				rawPort = rawPort[1:]
			}
		} else {
			rawHost, rawPort, _ = strings.Cut(hp, ":")
		}
		host, err := decodePart(s, rawHost, "host")
		if err != nil {
			return err
		}
		port, err := decodePart(s, rawPort, "port")
		if err != nil {
			return err
		}
		hosts = append(hosts, host)
		ports = append(ports, port)
	}
	if !allEmpty(hosts) {
		i.set("host", strings.Join(hosts, ","))
	}
	if !allEmpty(ports) {
		i.set("port", strings.Join(ports, ","))
	}
	return nil
}

// parseQuery reads keyword=value parameters separated by '&'; empty parameters are skipped.
// Parameter names are checked against libpq's keywords and values as libpq checks them; after
// a password parameter, neither is shown (an unencoded '&' in the password makes its tail
// look like more parameters).
func (i *Info) parseQuery(s, query string) error {
	afterSecret := false
	for _, param := range strings.Split(query, "&") {
		if param == "" {
			continue
		}
		rawKey, rawValue, ok := strings.Cut(param, "=")
		if !ok {
			return urlError(s, `query parameter without "=": want keyword=value`)
		}
		key, err := decodePart(s, rawKey, "query parameter name")
		if err != nil {
			return err
		}
		if !validKeyword(key) {
			return urlError(s, "invalid query parameter name: want letters, digits and '_'")
		}
		// The name is not echoed: after an unencoded '&' in a password it is a piece of it.
		part := "a query parameter value"
		if key == "password" {
			part = "password"
		}
		value, err := decodePart(s, rawValue, part)
		if err != nil {
			return err
		}
		if key == "ssl" {
			// libpq's alias, kept for JDBC-style URLs.
			if value != "true" {
				return urlError(s, `invalid value for ssl: want "true" (or use sslmode)`)
			}
			key, value = "sslmode", "require"
		}
		if !knownKeyword(key) {
			if afterSecret {
				return urlError(s, "invalid URI query parameter after the password (not shown: an unencoded '&' in the password? "+
					"percent-encode it as %26): want one of "+acceptedKeywords)
			}
			return urlError(s, fmt.Sprintf("invalid URI query parameter %q: want one of %s", truncate(key, 40), acceptedKeywords))
		}
		if problem := i.setChecked(key, value, !afterSecret); problem != "" {
			return urlError(s, problem)
		}
		afterSecret = afterSecret || isSecretKeyword(key)
	}
	return nil
}

// encodeHint ends the errors about a URL whose user information or host is malformed.
const encodeHint = "percent-encode the user name and password: # as %23, @ as %40, / as %2F, ? as %3F, % as %25, space as %20"

// checkURLShape rejects a URL whose user information or host cannot be what its author
// meant (see urlProblems). Its error shows the URL with everything between "://" and the
// last '@' masked.
func checkURLShape(s, scheme string) error {
	rest := s[len(scheme)+len("://"):]
	problems := urlProblems(rest)
	if len(problems) == 0 {
		return nil
	}
	msg := strings.Join(problems, "; ")
	if strings.IndexByte(rest, '@') >= 0 {
		msg += "; " + encodeHint
	}
	return urlError(s, msg)
}

// urlProblems lists what makes the text after "://" unreadable as its author meant, without
// quoting any of it:
//
//   - a raw '#', or white space or a control character, before the path: '#' starts a
//     fragment in URLs, and libpq would take it, or the space, as part of a name;
//   - a second '@' in the authority: libpq ends the user information at the first, so a
//     password holding an '@' would become part of the host;
//   - an '@' after the authority's end (the first '/' or '?') with a ':' before it: a '/' or
//     '?' in the password ended the authority early, and the rest of the password would
//     become the port, the database name or a query parameter. A URL meaning an '@' there
//     (in a query value, with a port or password before) must percent-encode it as %40;
//   - a port that is not empty or a number in 1-65535, in any entry of a host list.
//
// Percent-encoded characters are never a problem.
func urlProblems(rest string) []string {
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	hostPart := authority
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		hostPart = authority[at+1:]
	}
	var problems []string
	if strings.IndexByte(authority, '#') >= 0 {
		problems = append(problems, "a raw '#' before the database name")
	}
	if strings.IndexFunc(authority, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		problems = append(problems, "a space or control character before the database name")
	}
	if strings.Count(authority, "@") > 1 {
		problems = append(problems, "a second '@' before the host")
	}
	if at := strings.LastIndexByte(rest, '@'); at > end && strings.IndexByte(rest[:at], ':') >= 0 {
		problems = append(problems, "an '@' after the host's end, with a ':' before it (a '/' or '?' in the password, or an unencoded '@' in the database name or a query value?)")
	}
	if !netlocPortsValid(hostPart) {
		problems = append(problems, "invalid port: want 1-65535")
	}
	return problems
}

// netlocPortsValid reports whether every entry of "host1:port1,[::1]:port2,…" has an empty
// port or one in 1-65535. Entries it cannot split (an unterminated IPv6 address, a bad
// percent-encoding) are left to parseNetloc, which reports them.
func netlocPortsValid(netloc string) bool {
	for _, hp := range strings.Split(netloc, ",") {
		var rawPort string
		if strings.HasPrefix(hp, "[") {
			end := strings.IndexByte(hp, ']')
			if end < 0 || !strings.HasPrefix(hp[end+1:], ":") {
				continue
			}
			rawPort = hp[end+2:]
		} else {
			_, rawPort, _ = strings.Cut(hp, ":")
		}
		port, ok := unescape(rawPort)
		if ok && !validPorts(port) {
			return false
		}
	}
	return true
}
