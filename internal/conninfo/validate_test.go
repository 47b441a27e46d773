package conninfo

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseMalformedURL is the hostile-input review's case and its relatives: a URL whose user
// information or host cannot be what was meant fails at parse time, asks for percent-encoding,
// and shows no piece of the password, in the error or through Redact.
func TestParseMalformedURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		problem string   // in the error
		redact  string   // Redact's output
		pieces  []string // pieces of the password: in neither
	}{
		{"review case", "postgres://app:Zq9#t p@ss/w:rdX@host:5432/app", "a raw '#'",
			"postgres://xxxxx@host:5432/app", []string{"Zq9", "#t p", "t p@", "ss/w", "w:rdX", "rdX", "app:"}},
		{"hash", "postgres://app:Zq9#tK@host:5432/app", "a raw '#'",
			"postgres://xxxxx@host:5432/app", []string{"Zq9", "#tK"}},
		{"space", "postgres://app:Zq9 tK@host:5432/app", "a space",
			"postgres://xxxxx@host:5432/app", []string{"Zq9", "tK@"}},
		{"tab", "postgres://app:Zq9\ttK@host/app", "a space or control character",
			"postgres://xxxxx@host/app", []string{"Zq9", "tK@"}},
		{"second at", "postgres://app:Zq9@tK@host:5432/app", "a second '@' before the host",
			"postgres://xxxxx@host:5432/app", []string{"Zq9", "@tK", "tK@"}},
		{"at in user name", "postgres://me@corp:Zq9tK@host/app", "a second '@' before the host",
			"postgres://xxxxx@host/app", []string{"Zq9tK", "corp"}},
		{"slash", "postgres://app:Zq9/tK@host:5432/app", "an '@' after the host's end",
			"postgres://xxxxx@host:5432/app", []string{"Zq9", "tK@", "/tK"}},
		{"slash after digits", "postgres://app:1234/5678@host/app", "an '@' after the host's end",
			"postgres://xxxxx@host/app", []string{"1234", "5678"}},
		{"question mark", "postgres://app:Zq9?tK=1@host/app", "an '@' after the host's end",
			"postgres://xxxxx@host/app", []string{"Zq9", "tK=1"}},
		{"question mark, digits", "postgres://app:99?sslmode=Zq9@host/app", "an '@' after the host's end",
			"postgres://xxxxx@host/app", []string{"sslmode=Zq9", "Zq9"}},
		{"slash in user name", "postgres://ap/p:Zq9tK@host/app", "an '@' after the host's end",
			"postgres://xxxxx@host/app", []string{"Zq9tK"}},
		{"port from password", "postgres://app:Zq9tK@host:Zq9/app", "invalid port: want 1-65535",
			"postgres://xxxxx@host:Zq9/app", []string{"Zq9tK"}},
		{"port in host list", "postgres://app:Zq9tK@h1:5432,h2:x/app", "invalid port: want 1-65535",
			"postgres://xxxxx@h1:5432,h2:x/app", []string{"Zq9tK"}},
		{"port too big in host list", "postgres://app:Zq9tK@h1:5432,[::1]:65536/app", "invalid port: want 1-65535",
			"postgres://xxxxx@h1:5432,[::1]:65536/app", []string{"Zq9tK"}},
		{"hash in host", "postgres://app:Zq9tK@host#x/app", "a raw '#'",
			"postgres://xxxxx@host#x/app", []string{"Zq9tK"}},
		{"at in query after a port", "postgres://host:5432/app?application_name=Zq9@tK", "an '@' after the host's end",
			"postgres://xxxxx@tK", []string{"Zq9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.in, got)
			}
			msg := err.Error()
			for _, want := range []string{tt.problem, "connection URL " + fmt.Sprintf("%q", tt.redact)} {
				if !strings.Contains(msg, want) {
					t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, msg, want)
				}
			}
			if strings.Contains(tt.in[len("postgres://"):], "@") && !strings.Contains(msg, "percent-encode the user name and password: # as %23, @ as %40, / as %2F") {
				t.Errorf("Parse(%q) error = %q, want it to ask for percent-encoding", tt.in, msg)
			}
			if r := Redact(tt.in); r != tt.redact {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, r, tt.redact)
			}
			for _, p := range tt.pieces {
				if strings.Contains(msg, p) || strings.Contains(Redact(tt.in), p) {
					t.Errorf("Parse(%q): error %q or Redact %q shows the password piece %q", tt.in, msg, Redact(tt.in), p)
				}
			}
		})
	}
}

// TestParseWellFormedURLs are forms the malformed-URL check must leave alone.
func TestParseWellFormedURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		want     []string
		password string
		redacted string
	}{
		{"postgres:///db?host=/tmp", []string{"dbname=db", "host=/tmp"}, "", "postgres://%2Ftmp/db"},
		{"postgres://u:Zq9%23t%20p%40ss%2Fw%3ArdX@host:5432/app", []string{"user=u", "host=host", "port=5432", "dbname=app"},
			"Zq9#t p@ss/w:rdX", "postgres://u:xxxxx@host:5432/app"},
		{"postgres://u:a:b&c=d;e,f$g+h@host/app", []string{"user=u", "host=host", "dbname=app"}, "a:b&c=d;e,f$g+h",
			"postgres://u:xxxxx@host/app"},
		{"postgres://u:pw@h1:5432,h2:5433/app", []string{"user=u", "host=h1,h2", "port=5432,5433", "dbname=app"}, "pw",
			"postgres://u:xxxxx@h1:5432,h2:5433/app"},
		// An '@' after the host is fine when no ':' comes before it: there can be no password.
		{"postgres://h/db?application_name=a@b", []string{"host=h", "dbname=db", "application_name=a@b"}, "",
			"postgres://h/db?application_name=a%40b"},
		{"postgres://u@h/db?application_name=a@b", []string{"user=u", "host=h", "dbname=db", "application_name=a@b"}, "",
			"postgres://u@h/db?application_name=a%40b"},
		{"postgres://u:pw@h/a%40b?application_name=x%40y", []string{"user=u", "host=h", "dbname=a@b", "application_name=x@y"}, "pw",
			"postgres://u:xxxxx@h/a%40b?application_name=x%40y"},
		{"postgres://h/d#b", []string{"host=h", "dbname=d#b"}, "", "postgres://h/d%23b"},
	}
	for _, tt := range tests {
		i, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, keywords(i)); diff != "" {
			t.Errorf("Parse(%q) keywords mismatch (-want +got):\n%s", tt.in, diff)
		}
		if i.Password() != tt.password {
			t.Errorf("Parse(%q).Password() = %q, want %q", tt.in, i.Password(), tt.password)
		}
		if got := Redact(tt.in); got != tt.redacted {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.redacted)
		}
	}
}

// validSettings has a valid value for every keyword libpq accepts.
var validSettings = map[string]string{
	"host": "db.example", "hostaddr": "127.0.0.1", "port": "5432", "dbname": "app", "user": "u",
	"password": "pw", "passfile": "/etc/pgsnap/pgpass", "service": "main", "connect_timeout": "10",
	"client_encoding": "UTF8", "options": "-c work_mem=64MB", "application_name": "a",
	"fallback_application_name": "b", "keepalives": "1", "keepalives_idle": "30",
	"keepalives_interval": "5", "keepalives_count": "3", "tcp_user_timeout": "0",
	"replication": "database", "sslmode": "verify-full", "sslnegotiation": "direct",
	"sslcompression": "0", "sslcert": "/c.crt", "sslkey": "/c.key", "sslcertmode": "allow",
	"sslpassword": "kp", "sslrootcert": "system", "sslcrl": "/r.crl", "sslcrldir": "/crl",
	"sslsni": "1", "requirepeer": "postgres", "require_auth": "scram-sha-256",
	"ssl_min_protocol_version": "TLSv1.2", "ssl_max_protocol_version": "tlsv1.3",
	"gssencmode": "disable", "krbsrvname": "postgres", "gsslib": "gssapi", "gssdelegation": "0",
	"channel_binding": "require", "load_balance_hosts": "random",
	"target_session_attrs": "prefer-standby",
}

func TestParseEveryKeyword(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff(len(libpqKeywords), len(validSettings)); diff != "" {
		t.Fatalf("validSettings does not cover libpqKeywords (-keywords +settings):\n%s", diff)
	}
	for key, value := range validSettings {
		for _, in := range []string{
			key + "=" + kvQuote(value),
			"postgres://h/db?" + key + "=" + pctEncode(value),
		} {
			i, err := Parse(in)
			if err != nil {
				t.Errorf("Parse(%q): %v", in, err)
				continue
			}
			got := i.Get(key)
			if key == "password" {
				got = i.Password()
			}
			if got != value {
				t.Errorf("Parse(%q).Get(%s) = %q, want %q", in, key, got, value)
			}
		}
	}
	// Other values libpq accepts.
	for _, in := range []string{
		"port=5432,,5433", "port=''", "connect_timeout=' 10 '", "connect_timeout=-1", "connect_timeout=''",
		"keepalives_count=+3", "replication=true", "replication=OFF", "replication=t", "replication=of",
		"replication=1", "replication=''", "ssl_min_protocol_version=''", "target_session_attrs=any",
		"target_session_attrs=read-write", "target_session_attrs=read-only", "target_session_attrs=primary",
		"target_session_attrs=standby", "sslmode=disable", "sslmode=allow", "sslmode=prefer",
		"sslmode=require", "sslmode=verify-ca", "gssencmode=prefer", "gssencmode=require",
		"channel_binding=disable", "channel_binding=prefer", "sslnegotiation=postgres",
		"sslcertmode=disable", "sslcertmode=require", "load_balance_hosts=disable",
		"postgres://h/db?ssl=true",
	} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
	// libpq's requiressl alias.
	for in, want := range map[string]string{"requiressl=1": "require", "requiressl=0": "prefer", "postgres://h?requiressl=1": "require"} {
		i, err := Parse(in)
		if err != nil || i.Get("sslmode") != want || i.Get("requiressl") != "" {
			t.Errorf("Parse(%q) = %v, %v; want sslmode=%s", in, keywords(i), err, want)
		}
	}
}

func TestParseInvalidSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error
		not  []string // must not appear in the error
	}{
		{"url unknown parameter", "postgres://u:hunter22@h/db?sslmdoe=require",
			[]string{`invalid URI query parameter "sslmdoe": want one of application_name,`, "sslmode", "target_session_attrs"}, []string{"hunter22"}},
		{"kv unknown keyword", "host=h sslmdoe=require",
			[]string{`invalid connection option "sslmdoe" at offset 7: want one of application_name,`, "load_balance_hosts"}, nil},
		{"kv no ssl alias", "ssl=true", []string{`invalid connection option "ssl"`}, nil},
		{"kv tty is gone", "tty=/dev/tty", []string{`invalid connection option "tty"`}, nil},
		{"pg18 secret keyword", "postgres://h/db?oauth_client_secret=s3cr", []string{`invalid URI query parameter "oauth_client_secret"`}, nil},
		{"url ssl false", "postgres://h?ssl=false", []string{"invalid value for ssl"}, nil},

		{"sslmode", "postgres://h/db?sslmode=required",
			[]string{`invalid sslmode "required": want disable, allow, prefer, require, verify-ca or verify-full`}, nil},
		{"sslmode case", "sslmode=Require", []string{`invalid sslmode "Require"`}, nil},
		{"sslmode empty", "sslmode=''", []string{`invalid sslmode ""`}, nil},
		{"gssencmode", "gssencmode=allow", []string{`invalid gssencmode "allow": want disable, prefer or require`}, nil},
		{"target_session_attrs", "target_session_attrs=ANY",
			[]string{`invalid target_session_attrs "ANY": want any, read-write, read-only, primary, standby or prefer-standby`}, nil},
		{"channel_binding", "channel_binding=yes", []string{`invalid channel_binding "yes": want disable, prefer or require`}, nil},
		{"sslnegotiation", "sslnegotiation=requiredirect", []string{`invalid sslnegotiation "requiredirect": want postgres or direct`}, nil},
		{"sslcertmode", "sslcertmode=verify", []string{`invalid sslcertmode "verify": want disable, allow or require`}, nil},
		{"load_balance_hosts", "load_balance_hosts=1", []string{`invalid load_balance_hosts "1": want disable or random`}, nil},
		{"replication", "replication=physical", []string{`invalid replication "physical": want database, or a boolean`}, nil},
		{"replication ambiguous", "replication=o", []string{`invalid replication "o"`}, nil},
		{"tls version", "ssl_max_protocol_version=TLSv1.4", []string{`invalid ssl_max_protocol_version "TLSv1.4": want TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3`}, nil},
		{"connect_timeout", "host=h connect_timeout=10s", []string{`invalid connect_timeout "10s": want an integer (keyword at offset 7)`}, nil},
		{"connect_timeout fraction", "postgres://h?connect_timeout=1.5", []string{`invalid connect_timeout "1.5": want an integer`}, nil},
		{"keepalives_count too big", "keepalives_count=99999999999", []string{`invalid keepalives_count "99999999999": want an integer`}, nil},
		{"port", "port=5432x", []string{`invalid port "5432x": want 1-65535`}, nil},
		{"port list in query", "postgres://h1,h2/db?port=5432,0", []string{`invalid port "5432,0": want 1-65535`}, nil},

		// After a password, nothing is named or quoted: it may be a piece of the password.
		{"url unknown after password", "postgres://h/db?password=Zq9&tK=1",
			[]string{"invalid URI query parameter after the password (not shown", "%26"}, []string{"Zq9", `"tK"`}},
		{"url value after password", "postgres://h/db?password=Zq9&sslmode=tK",
			[]string{"invalid sslmode (value not shown): want disable"}, []string{"Zq9", "tK"}},
		{"kv unknown after password", "host=h password=Zq9 tK=1",
			[]string{"invalid connection option at offset 20 (not shown: it follows a password", "single quotes"}, []string{"Zq9", `"tK"`}},
		{"kv unknown after quoted password", "password='Zq9'tK=1",
			[]string{"invalid connection option at offset 14 (not shown"}, []string{"Zq9", "tK"}},
		{"kv value after password", "password=Zq9 port=tK",
			[]string{"invalid port (value not shown): want 1-65535"}, []string{"Zq9", "tK"}},
		{"kv value after sslpassword", "sslpassword=Zq9 sslmode=tK",
			[]string{"invalid sslmode (value not shown)"}, []string{"Zq9", "tK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.in, got)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, err, want)
				}
			}
			for _, bad := range tt.not {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("Parse(%q) error = %q, contains %q", tt.in, err, bad)
				}
				if strings.Contains(Redact(tt.in), bad) {
					t.Errorf("Redact(%q) = %q, contains %q", tt.in, Redact(tt.in), bad)
				}
			}
		})
	}
}

func TestRefuseSSLPassword(t *testing.T) {
	t.Parallel()
	const keyPass = "k3y-Pass-phrase"
	for _, in := range []string{
		"postgres://u@h/db?sslpassword=" + keyPass,
		"host=h sslkey=/k sslpassword='" + keyPass + "'",
	} {
		i, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		err = RefuseSSLPassword(i)
		if !errors.Is(err, ErrSSLPassword) {
			t.Fatalf("RefuseSSLPassword(%v) = %v, want ErrSSLPassword", i, err)
		}
		for _, want := range []string{"sslpassword is not supported", "command line", "without a passphrase", "0600"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("RefuseSSLPassword error = %q, want it to contain %q", err, want)
			}
		}
		if strings.Contains(err.Error(), keyPass) {
			t.Errorf("RefuseSSLPassword error = %q shows the value", err)
		}
	}
	for _, in := range []string{"postgres://u:pw@h/db", "host=h sslpassword=''", "sslkey=/k"} {
		if err := RefuseSSLPassword(mustParse(t, in)); err != nil {
			t.Errorf("RefuseSSLPassword(%q) = %v, want nil", in, err)
		}
	}
	if err := RefuseSSLPassword(Info{}.With("sslpassword", keyPass)); !errors.Is(err, ErrSSLPassword) {
		t.Errorf("RefuseSSLPassword of a With-built Info = %v, want ErrSSLPassword", err)
	}
}

func mustParse(t *testing.T, s string) Info {
	t.Helper()
	i, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return i
}
