package conninfo

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// valueKind is how a keyword's value is checked.
type valueKind uint8

const (
	anyValue    valueKind = iota // free text: host, dbname, file names, options
	oneOf                        // one of rule.values, compared as libpq does (case-sensitive); never empty
	integer                      // a 32-bit integer, as libpq's parse_int_param reads it; empty is unset
	portList                     // a comma-separated list of empty entries and ports 1-65535
	replication                  // a server boolean or "database"; empty is unset
	tlsVersion                   // TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, any case; empty is unset
)

// rule is what a keyword accepts.
type rule struct {
	kind   valueKind
	values []string // for oneOf
}

// libpqKeywords are the connection keywords libpq accepts in PostgreSQL 12 to 17 (the
// union: a keyword newer than the client programs in use fails when they start). The
// obsolete tty and authtype, ignored until 13 and refused since 14, are left out, and so are
// PostgreSQL 18's additions: among them secrets (oauth_client_secret, scram_client_key) that
// would reach the client programs' command line. A comment gives the release that added a
// keyword; target_session_attrs takes values other than any and read-write since 14.
var libpqKeywords = map[string]rule{
	"host":                      {},
	"hostaddr":                  {},
	"port":                      {kind: portList},
	"dbname":                    {},
	"user":                      {},
	"password":                  {},
	"passfile":                  {},
	"service":                   {},
	"connect_timeout":           {kind: integer},
	"client_encoding":           {},
	"options":                   {},
	"application_name":          {},
	"fallback_application_name": {},
	"keepalives":                {kind: integer},
	"keepalives_idle":           {kind: integer},
	"keepalives_interval":       {kind: integer},
	"keepalives_count":          {kind: integer},
	"tcp_user_timeout":          {kind: integer},
	"replication":               {kind: replication},
	"sslmode":                   {kind: oneOf, values: []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}},
	"sslnegotiation":            {kind: oneOf, values: []string{"postgres", "direct"}}, // 17
	"sslcompression":            {},                                                    // ignored since 14
	"sslcert":                   {},
	"sslkey":                    {},
	"sslcertmode":               {kind: oneOf, values: []string{"disable", "allow", "require"}}, // 16
	"sslpassword":               {},                                                             // 13
	"sslrootcert":               {},
	"sslcrl":                    {},
	"sslcrldir":                 {}, // 14
	"sslsni":                    {}, // 14
	"requirepeer":               {},
	"require_auth":              {},                                                              // 16
	"ssl_min_protocol_version":  {kind: tlsVersion},                                              // 13
	"ssl_max_protocol_version":  {kind: tlsVersion},                                              // 13
	"gssencmode":                {kind: oneOf, values: []string{"disable", "prefer", "require"}}, // 12
	"krbsrvname":                {},
	"gsslib":                    {},
	"gssdelegation":             {},                                                              // 16
	"channel_binding":           {kind: oneOf, values: []string{"disable", "prefer", "require"}}, // 13
	"load_balance_hosts":        {kind: oneOf, values: []string{"disable", "random"}},            // 16
	"target_session_attrs":      {kind: oneOf, values: []string{"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}},
}

// acceptedKeywords is the sorted list of libpqKeywords, for messages.
var acceptedKeywords = func() string {
	names := make([]string, 0, len(libpqKeywords))
	for k := range libpqKeywords {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}()

// isSecretKeyword reports whether a keyword's value is a secret: its value is never shown,
// nor is anything that follows it (an unquoted space or an unencoded '&' in it would make
// its tail look like further keywords).
func isSecretKeyword(k string) bool {
	return strings.Contains(k, "password")
}

// knownKeyword reports whether libpq accepts keyword k: one of libpqKeywords, or the
// requiressl alias.
func knownKeyword(k string) bool {
	_, ok := libpqKeywords[k]
	return ok || k == "requiressl"
}

// canonical applies libpq's one keyword alias: requiressl=1 is sslmode=require, any other
// requiressl is sslmode=prefer.
func canonical(key, value string) (string, string) {
	if key != "requiressl" {
		return key, value
	}
	if strings.HasPrefix(value, "1") {
		return "sslmode", "require"
	}
	return "sslmode", "prefer"
}

// checkValue returns what is wrong with value for keyword key ("" when it is accepted),
// naming the keyword and the accepted forms, and the value only when show is true.
func checkValue(key, value string, show bool) string {
	r := libpqKeywords[key]
	var want string
	switch r.kind {
	case anyValue:
		return ""
	case oneOf:
		if slices.Contains(r.values, value) {
			return ""
		}
		want = orList(r.values)
	case integer:
		if value == "" || validInt(value) {
			return ""
		}
		want = "an integer"
	case portList:
		if validPorts(value) {
			return ""
		}
		want = "1-65535"
	case replication:
		if value == "" || value == "database" || validBool(value) {
			return ""
		}
		want = "database, or a boolean: true, false, on, off, yes, no, 1 or 0"
	case tlsVersion:
		if value == "" || slices.Contains([]string{"tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3"}, asciiLower(value)) {
			return ""
		}
		want = "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3"
	}
	if show && !isSecretKeyword(key) {
		return fmt.Sprintf("invalid %s %q: want %s", key, truncate(value, 40), want)
	}
	return fmt.Sprintf("invalid %s (value not shown): want %s", key, want)
}

// validInt reads an integer as libpq's parse_int_param does: optional white space around an
// optionally signed decimal number that fits in 32 bits.
func validInt(s string) bool {
	_, err := strconv.ParseInt(strings.Trim(s, " \t\n\r\f\v"), 10, 32)
	return err == nil
}

// validBool accepts what the server's parse_bool accepts: any case, a unique prefix of true,
// false, yes or no, on, off (or of), 1 or 0.
func validBool(s string) bool {
	v := asciiLower(strings.TrimSpace(s))
	switch v {
	case "1", "0", "on", "off", "of":
		return true
	case "":
		return false
	}
	for _, word := range []string{"true", "false", "yes", "no"} {
		if strings.HasPrefix(word, v) {
			return true
		}
	}
	return false
}

// orList writes "a, b or c".
func orList(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// ErrSSLPassword is RefuseSSLPassword's error.
var ErrSSLPassword = errors.New("sslpassword is not supported: only the password has a private way to pg_dump, " +
	"and the sslpassword would be on its command line, where any user of the machine can read it; " +
	"use a client key without a passphrase, readable only by pgsnap's user (mode 0600)")

// RefuseSSLPassword returns ErrSSLPassword when i sets a non-empty sslpassword, and nil
// otherwise. Call it for every connection setting whose connection reaches a client program
// (pg_dump, pg_restore, pg_dumpall, psql). The error never holds the value.
func RefuseSSLPassword(i Info) error {
	if i.Get("sslpassword") != "" {
		return ErrSSLPassword
	}
	return nil
}
