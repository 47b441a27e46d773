package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// Auth holds the credentials that guard every endpoint except /healthz. The zero value
// guards nothing. With User and Password set, HTTP basic authentication is accepted; with
// Token set, "Authorization: Bearer <Token>" is accepted; with both, either is.
//
// Auth never prints its secrets: String, GoString and LogValue redact them.
type Auth struct {
	User     string
	Password string
	Token    string
}

func (a Auth) enabled() bool { return a.User != "" || a.Password != "" || a.Token != "" }

func (a Auth) validate() error {
	var errs []error
	if (a.User == "") != (a.Password == "") {
		errs = append(errs, errors.New("auth: basic authentication needs both a user and a password"))
	}
	if strings.ContainsRune(a.User, ':') {
		errs = append(errs, errors.New("auth: basic authentication user must not contain ':'"))
	}
	return errors.Join(errs...)
}

// String describes which methods are configured, without secrets.
func (a Auth) String() string {
	var m []string
	if a.User != "" {
		m = append(m, "basic(user="+a.User+", password=xxxxx)")
	}
	if a.Token != "" {
		m = append(m, "bearer(xxxxx)")
	}
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(m, "+")
}

// GoString is String: %#v must not print secrets either.
func (a Auth) GoString() string { return "httpapi.Auth{" + a.String() + "}" }

// LogValue is String.
func (a Auth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// allows reports whether r carries valid credentials. Comparisons are constant-time over
// SHA-256 digests, so neither content nor length leaks through timing.
func (a Auth) allows(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if a.Token != "" {
		if tok, ok := cutPrefixFold(h, "Bearer "); ok && equal(strings.TrimSpace(tok), a.Token) == 1 {
			return true
		}
	}
	if a.User != "" {
		if u, p, ok := r.BasicAuth(); ok {
			// Both compared every time: no short cut tells a right user from a wrong one.
			return equal(u, a.User)&equal(p, a.Password) == 1
		}
	}
	return false
}

func equal(got, want string) int {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:])
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

// challenge answers 401 with one WWW-Authenticate header per accepted scheme.
func (a Auth) challenge(w http.ResponseWriter) {
	if a.User != "" {
		w.Header().Add("WWW-Authenticate", `Basic realm="pgsnap", charset="UTF-8"`)
	}
	if a.Token != "" {
		w.Header().Add("WWW-Authenticate", `Bearer realm="pgsnap"`)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("unauthorized\n"))
}
