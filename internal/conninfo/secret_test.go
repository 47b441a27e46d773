package conninfo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tortureCharset builds the 128-character password: every printable ASCII character class,
// URL and conninfo metacharacters included.
const tortureCharset = `aZ09:/?#[]@!$&'()*+,;=%\"<>{}|^~` + "` \t-._"

// t30Passwords are RELIABILITY.md's T30 passwords.
func t30Passwords() map[string]string {
	long := strings.Repeat(tortureCharset, 128/len(tortureCharset)+1)[:128]
	return map[string]string{
		"url metacharacters": `s3cr@t:/p%w#?&=x`,
		"colon backslash":    `pa:ss\word:\\end\`,
		"spaces quotes":      ` it's a "quoted" pass phrase `,
		"non-ascii":          "pässwörd漢字",
		"128 chars":          long,
	}
}

// pctEncode percent-encodes every byte but the unreserved ones, as a user would in a URL.
func pctEncode(s string) string {
	return escape(s, unreserved)
}

// kvQuote quotes a value for the keyword/value form.
func kvQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// secretForms lists the password and the encodings under which it could leak.
func secretForms(pw string) []string {
	forms := []string{pw, pctEncode(pw), url.QueryEscape(pw), url.PathEscape(pw), kvQuote(pw)}
	if lower := strings.ToLower(pctEncode(pw)); lower != pctEncode(pw) {
		forms = append(forms, lower)
	}
	return forms
}

// checkNoSecret fails if out contains the password in any form.
func checkNoSecret(t *testing.T, what, out, pw string) {
	t.Helper()
	for _, form := range secretForms(pw) {
		if strings.Contains(out, form) {
			t.Errorf("%s = %q contains the password (as %q)", what, out, form)
		}
	}
}

// printedForms returns every way an Info is printed or logged.
func printedForms(t *testing.T, i Info) map[string]string {
	t.Helper()
	js, err := json.Marshal(i)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	nested, err := json.Marshal(struct{ Conn Info }{i})
	if err != nil {
		t.Fatalf("json.Marshal nested: %v", err)
	}
	var text, jsonLog bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("connect", "conn", i)
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("connect", "conn", i)
	type holder struct {
		Conn  Info
		inner Info // unexported: fmt cannot call its methods
	}
	h := holder{Conn: i, inner: i}
	return map[string]string{
		"Redacted": i.Redacted(),
		"String":   i.String(),
		"GoString": i.GoString(),
		"%v":       fmt.Sprintf("%v", i),
		"%+v":      fmt.Sprintf("%+v", i),
		"%#v":      fmt.Sprintf("%#v", i),
		//lint:ignore S1025 the fmt verb itself is under test
		"%s":             fmt.Sprintf("%s", i),
		"%q":             fmt.Sprintf("%q", i),
		"%v pointer":     fmt.Sprintf("%v", &i),
		"%+v struct":     fmt.Sprintf("%+v", h),
		"%#v struct":     fmt.Sprintf("%#v", h),
		"LogValue":       i.LogValue().String(),
		"slog text":      text.String(),
		"slog json":      jsonLog.String(),
		"MarshalJSON":    string(js),
		"nested JSON":    string(nested),
		"KeywordValue":   i.KeywordValue(),
		"Redact(url)":    Redact(i.Redacted()),
		"Get(password)":  i.Get("password"),
		"Without.String": i.Without("password").String(),
	}
}

func TestPasswordsNeverPrinted(t *testing.T) {
	t.Parallel()
	for name, pw := range t30Passwords() {
		inputs := map[string]string{
			"url":            "postgres://alice:" + pctEncode(pw) + "@db.example:5432/app?sslmode=disable",
			"url query":      "postgresql://alice@db.example/app?password=" + pctEncode(pw),
			"keyword/value":  "host=db.example user=alice password=" + kvQuote(pw) + " dbname=app",
			"kv, pw first":   "password = " + kvQuote(pw) + "\thost=db.example",
			"url multi-host": "postgres://alice:" + pctEncode(pw) + "@[::1]:5432,db.example:5433/app",
		}
		for form, in := range inputs {
			t.Run(name+"/"+form, func(t *testing.T) {
				t.Parallel()
				i, err := Parse(in)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if i.Password() != pw {
					t.Fatalf("Password() = %q, want %q", i.Password(), pw)
				}
				for what, out := range printedForms(t, i) {
					checkNoSecret(t, what, out, pw)
				}
				checkNoSecret(t, "Redact(input)", Redact(in), pw)

				// KeywordValue parses back to the same keywords, without a password.
				back, err := Parse(i.KeywordValue())
				if err != nil {
					t.Fatalf("Parse(KeywordValue()): %v", err)
				}
				if diff := cmp.Diff(keywords(i), keywords(back)); diff != "" {
					t.Errorf("Parse(KeywordValue()) keywords mismatch (-want +got):\n%s", diff)
				}
				if back.HasPassword() {
					t.Errorf("Parse(KeywordValue()).HasPassword() = true, want false")
				}
				// And the password survives a keyword/value round trip when added back.
				withPw, err := Parse(i.KeywordValue() + " password=" + kvQuote(pw))
				if err != nil || withPw.Password() != pw {
					t.Errorf("keyword/value round trip: Password() = %q, err %v; want %q", withPw.Password(), err, pw)
				}
			})
		}
	}
}

// TestPasswordsNotInErrors breaks each connection string somewhere other than the password and
// checks that neither the error nor Redact shows the password.
func TestPasswordsNotInErrors(t *testing.T) {
	t.Parallel()
	for name, pw := range t30Passwords() {
		enc, quoted := pctEncode(pw), kvQuote(pw)
		inputs := map[string]string{
			"url port 99999":       "postgres://alice:" + enc + "@db.example:99999/app",
			"url bad escape in db": "postgres://alice:" + enc + "@db.example/a%zzpp",
			"url bad escape in pw": "postgres://alice:" + enc + "%zz@db.example/app",
			"url unterminated v6":  "postgres://alice:" + enc + "@[::1/app",
			"url bad query":        "postgres://alice:" + enc + "@db.example/app?sslmode",
			"url query pw bad":     "postgres://db.example/app?password=" + enc + "%g&x=1",
			"mysql":                "mysql://alice:" + enc + "@db.example/app",
			"mysql raw":            "mysql://alice:" + pw + "@db.example/app",
			"url raw password":     "postgres://alice:" + pw + "@db.example:99999/app",
			"url raw, good port":   "postgres://alice:" + pw + "@db.example:5432/app?sslmode=disable",
			"url raw, host list":   "postgres://alice:" + pw + "@h1:5432,h2:5433/app",
			"url raw, no user":     "postgresql://:" + pw + "@db.example/app",
			"kv port 99999":        "host=db.example password=" + quoted + " port=99999",
			"kv unterminated":      "host=db.example password=" + quoted + " dbname='app",
			"kv stray word":        "password=" + quoted + " host=db.example stray",
			"kv unquoted raw":      "host=db.example password=" + pw + " port=99999",
			"kv raw unterminated":  "host=db.example password='" + pw,
		}
		for form, in := range inputs {
			t.Run(name+"/"+form, func(t *testing.T) {
				t.Parallel()
				i, err := Parse(in)
				if err == nil {
					// A raw form may parse, but in the URL form only with the whole password
					// as the password: no piece of it may go to the host, port or database.
					if strings.HasPrefix(form, "url raw") && i.Password() != pw {
						t.Fatalf("Parse(%q) took the password as %q, want %q or an error", in, i.Password(), pw)
					}
					if strings.Contains(form, "raw") {
						return
					}
					t.Fatalf("Parse(%q) = %v, want an error", in, i)
				}
				checkNoSecret(t, "error", err.Error(), pw)
				checkNoSecret(t, "Redact", Redact(in), pw)
			})
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"valid url", "postgres://u:pw@h/db", "postgres://u:xxxxx@h/db"},
		{"valid kv", "host=h password=pw", "host='h' password='xxxxx'"},
		// A URL whose user information or host is malformed (here a bad port) is masked from
		// the "://" to the last '@': its user name may hold pieces of the password.
		{"no password", "postgres://u@h:99999/db", "postgres://xxxxx@h:99999/db"},
		{"bad port", "postgres://u:pw@h:99999/db", "postgres://xxxxx@h:99999/db"},
		{"raw at and slash", "postgres://u:p@s/s@h:99999/d%zz", "postgres://xxxxx@h:99999/d%zz"},
		{"well-formed, bad sslmode", "postgres://u:pw@h/db?sslmode=bogus", "postgres://u:xxxxx@h/db?sslmode=bogus"},
		{"other scheme", "mysql://u:pw@h/db", "mysql://u:xxxxx@h/db"},
		{"leading junk", "junk postgres://u:pw@h/db x", "junk postgres://u:xxxxx@h/db x"},
		{"query password", "postgres://h/db?sslmode=x&password=p&w%zz", "postgres://h/db?sslmode=x&password=xxxxx"},
		{"encoded query name", "postgres://h/db?pass%77ord=pw&x", "postgres://h/db?pass%77ord=xxxxx"},
		{"kv unterminated", "host=h password='pw port=1", "host=h password=xxxxx"},
		{"kv spaces", "host=h password = pw x", "host=h password =xxxxx"},
		{"kv upper case", "PASSWORD=pw x", "PASSWORD=xxxxx"},
		{"empty password value", "password=", ""},
		{"nothing to hide", "foo bar", "foo bar"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactedMasksSSLPassword(t *testing.T) {
	for _, s := range []string{"postgres://u@h/db?sslpassword=s3cret-key-pass", "host=h sslpassword='s3cret-key-pass'"} {
		info, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []string{info.Redacted(), Redact(s), fmt.Sprintf("%v %#v", info, info)} {
			if strings.Contains(got, "s3cret-key-pass") {
				t.Errorf("redacted form of %q shows the sslpassword: %s", s, got)
			}
		}
	}
}
