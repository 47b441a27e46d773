package conninfo

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// keywords lists the parsed keyword/value pairs as "key=value", password excluded.
func keywords(i Info) []string {
	var out []string
	for _, p := range i.pairs {
		out = append(out, p.key+"="+p.value)
	}
	return out
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		want     []string
		password string
	}{
		{"url full", "postgres://alice:pw@db.example:5433/app?sslmode=disable&application_name=x",
			[]string{"user=alice", "host=db.example", "port=5433", "dbname=app", "sslmode=disable", "application_name=x"}, "pw"},
		{"postgresql scheme", "postgresql://db.example/app",
			[]string{"host=db.example", "dbname=app"}, ""},
		{"scheme case", "POSTGRES://h/app", []string{"host=h", "dbname=app"}, ""},
		{"url no user", "postgres://h", []string{"host=h"}, ""},
		{"url only scheme", "postgres://", nil, ""},
		{"url user only", "postgres://bob@h/db", []string{"user=bob", "host=h", "dbname=db"}, ""},
		{"url empty password", "postgres://bob:@h/db", []string{"user=bob", "host=h", "dbname=db"}, ""},
		{"url password no user", "postgres://:pw@h", []string{"host=h"}, "pw"},
		{"multi host", "postgres://u@h1:5432,h2:5433/db",
			[]string{"user=u", "host=h1,h2", "port=5432,5433", "dbname=db"}, ""},
		{"multi host some ports", "postgres://h1,h2:5433,h3/db",
			[]string{"host=h1,h2,h3", "port=,5433,", "dbname=db"}, ""},
		{"ipv6", "postgres://[::1]:5432/db", []string{"host=::1", "port=5432", "dbname=db"}, ""},
		{"ipv6 no port", "postgres://[fe80::1%25eth0]/db", []string{"host=fe80::1%eth0", "dbname=db"}, ""},
		{"ipv6 multi", "postgres://[::1]:5432,[2001:db8::2]:5433",
			[]string{"host=::1,2001:db8::2", "port=5432,5433"}, ""},
		{"port only", "postgres://:5433/db", []string{"port=5433", "dbname=db"}, ""},
		{"empty port", "postgres://h:/db", []string{"host=h", "dbname=db"}, ""},
		{"socket in query", "postgres:///db?host=/var/run/postgresql",
			[]string{"dbname=db", "host=/var/run/postgresql"}, ""},
		{"socket encoded host", "postgres://%2Ftmp/db", []string{"host=/tmp", "dbname=db"}, ""},
		{"encoded everything", "postgres://us%65r:p%40ss@h%6Fst/d%20b?applic%61tion_name=a%26b",
			[]string{"user=user", "host=host", "dbname=d b", "application_name=a&b"}, "p@ss"},
		{"plus is not space", "postgres://h/db?application_name=a+b", []string{"host=h", "dbname=db", "application_name=a+b"}, ""},
		{"password in query", "postgres://h/db?password=q%20w", []string{"host=h", "dbname=db"}, "q w"},
		{"query overrides path", "postgres://h/db1?dbname=db2", []string{"host=h", "dbname=db2"}, ""},
		{"query overrides password", "postgres://u:one@h?password=two", []string{"user=u", "host=h"}, "two"},
		{"empty query params", "postgres://h/db?&sslmode=disable&", []string{"host=h", "dbname=db", "sslmode=disable"}, ""},
		{"ssl alias", "postgres://h?ssl=true", []string{"host=h", "sslmode=require"}, ""},
		{"unencoded colon in password", "postgres://u:a:b@h", []string{"user=u", "host=h"}, "a:b"},
		{"surrounding space trimmed", "  postgres://h/db\n", []string{"host=h", "dbname=db"}, ""},
		{"empty dbname path", "postgres://h/", []string{"host=h"}, ""},
		{"options value", "postgres://h?options=-c%20search_path%3Dx",
			[]string{"host=h", "options=-c search_path=x"}, ""},

		{"kv simple", "host=h port=5432 dbname=app user=alice password=pw",
			[]string{"host=h", "port=5432", "dbname=app", "user=alice"}, "pw"},
		{"kv spaces around equals", "host = h\tport= 5432 \n dbname =app",
			[]string{"host=h", "port=5432", "dbname=app"}, ""},
		{"kv quoted", `host='my host' password='it\'s a \\ test'`, []string{"host=my host"}, `it's a \ test`},
		{"kv bare escapes", `password=a\ b\\c\'`, nil, `a b\c'`},
		{"kv bare trailing backslash", `password=ab\`, nil, "ab"},
		{"kv empty values", "host='' dbname=", []string{"host=", "dbname="}, ""},
		{"kv repeated keyword", "dbname=a host=h dbname=b", []string{"dbname=b", "host=h"}, ""},
		{"kv multi port", "host=h1,h2 port=5432,", []string{"host=h1,h2", "port=5432,"}, ""},
		{"kv utf8", "dbname='données' password='pässwörd漢字'", []string{"dbname=données"}, "pässwörd漢字"},
		{"kv quoted equals and url", "application_name='postgres://x?y=z'",
			[]string{"application_name=postgres://x?y=z"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, keywords(got)); diff != "" {
				t.Errorf("Parse(%q) keywords mismatch (-want +got):\n%s", tt.in, diff)
			}
			if got.Password() != tt.password {
				t.Errorf("Parse(%q).Password() = %q, want %q", tt.in, got.Password(), tt.password)
			}
			if got.HasPassword() != (tt.password != "") {
				t.Errorf("Parse(%q).HasPassword() = %v, want %v", tt.in, got.HasPassword(), tt.password != "")
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string   // substring of the error
		not  []string // must not appear in the error
	}{
		{"empty", "", "empty", nil},
		{"blank", " \t\n", "empty", nil},
		{"nul", "host=h\x00", "NUL", nil},
		{"mysql", "mysql://u:hunter22@h/db", `scheme "mysql" is not supported: want postgres://user:pass@host:port/db?… or key=value pairs`, []string{"hunter22"}},
		{"http", "http://h", "not supported", nil},
		{"bad escape in password", "postgres://u:hunter%zz22@h/db", "invalid percent-encoding in password", []string{"hunter", "%zz"}},
		{"short escape in password", "postgres://u:hunter22%4@h/db", "invalid percent-encoding in password", []string{"hunter22"}},
		{"encoded nul in password", "postgres://u:hunter%0022@h/db", "NUL byte in password", []string{"hunter"}},
		{"bad escape in user", "postgres://b%zzob:hunter22@h/db", "invalid percent-encoding in user", []string{"hunter22"}},
		{"bad escape in host", "postgres://u:hunter22@h%g1/db", "invalid percent-encoding in host", []string{"hunter22"}},
		{"bad escape in dbname", "postgres://u:hunter22@h/d%zz", "invalid percent-encoding in dbname", []string{"hunter22"}},
		{"bad escape in query password", "postgres://h/db?password=hunter%zz22", "invalid percent-encoding in password", []string{"hunter"}},
		{"bad escape in query value", "postgres://u:hunter22@h/db?sslmode=%", "invalid percent-encoding in a query parameter value", []string{"hunter22"}},
		{"url port too big", "postgres://u:hunter22@h:99999/db", "invalid port: want 1-65535", []string{"hunter22"}},
		{"url port zero", "postgres://h:0/db", "invalid port", nil},
		{"url port not number", "postgres://h:abc/db", "invalid port", nil},
		{"url port in query", "postgres://h/db?port=70000", "invalid port", nil},
		{"url port in list", "postgres://h1:5432,h2:99999/db", "invalid port", nil},
		{"unterminated ipv6", "postgres://u:hunter22@[::1/db", "unterminated IPv6", []string{"hunter22"}},
		{"text after ipv6", "postgres://[::1]x/db", "after IPv6", nil},
		{"query without equals", "postgres://u:hunter22@h/db?sslmode", `without "="`, []string{"hunter22"}},
		{"query bad name", "postgres://h/db?a%20b=1", "invalid query parameter name", nil},
		{"ssl false", "postgres://h?ssl=false", "invalid value for ssl", nil},
		{"unencoded slash in password", "postgres://u:hun/ter22@h:99999/db", "invalid port", []string{"hun/ter22", "ter22"}},
		// Accepted before, as user u, password p@ss, host h; libpq reads it as password p and
		// host "ss@h", so which one the author meant cannot be told.
		{"unencoded at in password", "postgres://u:p@ss@h/db", "second '@' before the host", []string{"p@ss", "u:p", "ss@"}},

		{"kv word without equals", "foo", `missing "=" after the word at offset 0`, nil},
		{"kv trailing word", "host=h foo", "offset 7", []string{"foo"}},
		{"kv stray word after password", "password=hunter 22 host=h", "offset 16", []string{"hunter"}},
		{"kv no keyword", "=x", "invalid keyword", nil},
		{"kv bad keyword", "ho-st=x", "invalid keyword at offset 0", nil},
		{"kv unterminated", "host=h password='hunter22", "unterminated quoted string starting at offset 16", []string{"hunter22"}},
		{"kv unterminated by escape", `password='hunter22\'`, "unterminated", []string{"hunter22"}},
		{"kv port too big", "host=h port=99999 password=hunter22", `invalid port "99999": want 1-65535`, []string{"hunter22"}},
		{"kv port list", "host=a,b port=5432,0", "invalid port", nil},
		{"kv port sign", "port=+5432", "invalid port", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error containing %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
			for _, bad := range tt.not {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("Parse(%q) error = %q, contains %q", tt.in, err, bad)
				}
			}
			if !got.IsZero() {
				t.Errorf("Parse(%q) returned a non-zero Info with its error", tt.in)
			}
		})
	}
}

func TestWithWithout(t *testing.T) {
	t.Parallel()
	base, err := Parse("postgres://u:pw@h/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	changed := base.With("dbname", "other").With("application_name", "pgsnap").With("password", "new")
	if diff := cmp.Diff([]string{"user=u", "host=h", "dbname=other", "sslmode=disable", "application_name=pgsnap"}, keywords(changed)); diff != "" {
		t.Errorf("With keywords mismatch (-want +got):\n%s", diff)
	}
	if changed.Password() != "new" {
		t.Errorf("With(password).Password() = %q, want %q", changed.Password(), "new")
	}
	// The original is unchanged: With copies.
	if base.Database() != "db" || base.Password() != "pw" || base.Get("application_name") != "" {
		t.Errorf("base changed by With: %v", keywords(base))
	}
	removed := changed.Without("sslmode").Without("password")
	if diff := cmp.Diff([]string{"user=u", "host=h", "dbname=other", "application_name=pgsnap"}, keywords(removed)); diff != "" {
		t.Errorf("Without keywords mismatch (-want +got):\n%s", diff)
	}
	if removed.HasPassword() {
		t.Errorf("Without(password).HasPassword() = true, want false")
	}
	if got := base.Get("password"); got != "" {
		t.Errorf("Get(password) = %q, want \"\"", got)
	}
	if got := base.User(); got != "u" {
		t.Errorf("User() = %q, want %q", got, "u")
	}
	if got := base.With("password", "").HasPassword(); got {
		t.Errorf("With(password, \"\").HasPassword() = true, want false")
	}
	var zero Info
	if !zero.IsZero() || zero.Redacted() != "" || zero.KeywordValue() != "" {
		t.Errorf("zero Info: IsZero %v, Redacted %q, KeywordValue %q", zero.IsZero(), zero.Redacted(), zero.KeywordValue())
	}
	if got := zero.With("host", "h").KeywordValue(); got != "host='h'" {
		t.Errorf("zero.With(host).KeywordValue() = %q, want %q", got, "host='h'")
	}
}

func TestKeywordValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"postgres://u:pw@h:5432/db", "user='u' host='h' port='5432' dbname='db'"},
		{`host='a b' application_name='it\'s \\ x' password=secret`, `host='a b' application_name='it\'s \\ x'`},
		{"postgres://h/db?options=-c%20a%3Db", "host='h' dbname='db' options='-c a=b'"},
	}
	for _, tt := range tests {
		i, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got := i.KeywordValue(); got != tt.want {
			t.Errorf("Parse(%q).KeywordValue() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"postgres://u:pw@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db"},
		{"postgres://:pw@h", "postgres://:xxxxx@h"},
		{"postgres://[::1]:5432,h2/db", "postgres://[::1]:5432,h2/db"},
		{"postgres:///db?host=/tmp", "postgres://%2Ftmp/db"},
		{"postgres://h/db?password=pw&application_name=a%20b", "postgres://:xxxxx@h/db?application_name=a%20b"},
		{"postgres://?host=a,b&port=1", "postgres://?host=a%2Cb&port=1"},
		{"postgres://h?user=", "postgres://h?user="},
		{"host=h password=pw dbname=db", "host='h' dbname='db' password='xxxxx'"},
		{"host=h", "host='h'"},
		{"password=pw", "password='xxxxx'"},
	}
	for _, tt := range tests {
		i, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if got := i.Redacted(); got != tt.want {
			t.Errorf("Parse(%q).Redacted() = %q, want %q", tt.in, got, tt.want)
		}
		back, err := Parse(i.Redacted())
		if err != nil {
			t.Fatalf("Parse(Redacted %q): %v", i.Redacted(), err)
		}
		if diff := cmp.Diff(keywordSet(i), keywordSet(back)); diff != "" {
			t.Errorf("Parse(%q) keywords changed by a Redacted round trip (-want +got):\n%s", tt.in, diff)
		}
	}
}

// keywordSet is keywords as a map, for comparisons where the URL form reorders them.
func keywordSet(i Info) map[string]string {
	m := map[string]string{}
	for _, p := range i.pairs {
		m[p.key] = p.value
	}
	return m
}

func TestConnStringRoundTrips(t *testing.T) {
	for _, in := range []string{
		"postgres://u:s3cr%40t%3A%2Fp%25w%23%3F%26%3Dx@db:5432/app?sslmode=disable",
		`host=db user=u password='it\'s \\ odd' dbname=app`,
		"postgres://u@db/app",
	} {
		a, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(a.With("dbname", "other").ConnString())
		if err != nil {
			t.Fatalf("Parse(ConnString of %q) = %v", in, err)
		}
		if b.Password() != a.Password() || b.Database() != "other" || b.User() != a.User() || b.Get("host") != a.Get("host") {
			t.Errorf("ConnString of %q lost something: password kept %v, database %q, user %q", in, b.Password() == a.Password(), b.Database(), b.User())
		}
	}
}
