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
func (i *Info) parseQuery(s, query string) error {
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
		i.set(key, value)
	}
	return nil
}
