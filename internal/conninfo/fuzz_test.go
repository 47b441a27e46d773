package conninfo

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var fuzzSeeds = []string{
	"postgres://alice:pw@db.example:5432/app?sslmode=disable",
	"postgresql://u:s3cr%40t%3A%2Fp%25w%23%3F%26%3Dx@h1:5432,h2:5433/db",
	"postgres://[::1]:5432,[fe80::1%25eth0]/db?application_name=a%20b&password=x",
	"postgres:///db?host=/tmp&port=5433",
	"postgres://:5433/?user=&dbname=",
	"postgres://?host=a,b&port=1",
	"postgres://u:p@ss@h:99999/d%zz",
	"postgres://app:Zq9#t p@ss/w:rdX@host:5432/app",
	"postgres://h/db?password=p&w&sslmode=x&bogus=1",
	"mysql://u:pw@h/db",
	`host=h port=5432 dbname='a b' password='it\'s' options='-c x=1'`,
	`password=a\ b host = h`,
	"host=h password='unterminated",
	"foo",
	"",
}

// breakers turn a well-formed string into one that fails to parse somewhere other than the
// password.
var breakers = []struct{ url, kv string }{
	{"postgres://alice:{PW}@db.example:5432/app", "host=db.example password={PW} dbname=app"},
	{"postgres://alice:{PW}@db.example:99999/app", "host=db.example password={PW} port=99999"},
	{"postgres://alice:{PW}@db.example/a%zz", "host=db.example password={PW} dbname='app"},
	{"postgres://alice:{PW}@[::1/app", "password={PW} stray"},
	{"mysql://alice:{PW}@db.example/app", "password={PW} ho-st=x"},
	{"postgres://db.example/app?x=1&password={PW}&sslmode", "host=%zz password={PW} port=0"},
}

// FuzzParse checks that Parse never panics; that what parses prints the same whatever the
// password is; that KeywordValue and Redacted parse back to the same keywords; and that a
// password placed correctly into a string broken elsewhere is absent from the error.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "s3cr@t:/p%w#?&=x")
	}
	f.Add("host=h", `pa:ss\word`)
	f.Add("postgres://h", " it's \"q\" ")
	f.Fuzz(func(t *testing.T, s, pw string) {
		if i, err := Parse(s); err == nil {
			checkParsed(t, s, i)
		}
		checkEmbedded(t, pw)
	})
}

func checkParsed(t *testing.T, s string, i Info) {
	t.Helper()
	a, b := i.With("password", "Aaaa-1"), i.With("password", "Bbbb-2")
	if a.Redacted() != b.Redacted() {
		t.Fatalf("Parse(%q): Redacted depends on the password: %q vs %q", s, a.Redacted(), b.Redacted())
	}
	if a.KeywordValue() != b.KeywordValue() || a.KeywordValue() != i.KeywordValue() {
		t.Fatalf("Parse(%q): KeywordValue depends on the password", s)
	}
	if got := Redact(s); got != i.Redacted() {
		t.Fatalf("Redact(%q) = %q, want Redacted %q", s, got, i.Redacted())
	}
	if kv := i.KeywordValue(); kv != "" {
		back, err := Parse(kv)
		if err != nil {
			t.Fatalf("Parse(%q).KeywordValue() = %q does not parse: %v", s, kv, err)
		}
		if diff := cmp.Diff(keywords(i), keywords(back)); diff != "" {
			t.Fatalf("Parse(%q): KeywordValue round trip mismatch (-want +got):\n%s", s, diff)
		}
		if back.HasPassword() {
			t.Fatalf("Parse(%q): KeywordValue %q carries a password", s, kv)
		}
	}
	if r := i.Redacted(); r != "" {
		back, err := Parse(r)
		if err != nil {
			t.Fatalf("Parse(%q).Redacted() = %q does not parse: %v", s, r, err)
		}
		if diff := cmp.Diff(keywordSet(i), keywordSet(back)); diff != "" {
			t.Fatalf("Parse(%q): Redacted %q round trip mismatch (-want +got):\n%s", s, r, diff)
		}
		if back.HasPassword() != i.HasPassword() || (back.HasPassword() && back.Password() != mask) {
			t.Fatalf("Parse(%q): Redacted %q parses with password %v", s, r, back.HasPassword())
		}
	}
}

// checkEmbedded puts pw, encoded for its place, into each breaker and checks the outcome.
func checkEmbedded(t *testing.T, pw string) {
	t.Helper()
	for _, br := range breakers {
		for _, tmpl := range []string{br.url, br.kv} {
			encoded := pctEncode(pw)
			if !strings.HasPrefix(tmpl, "postgres") && !strings.HasPrefix(tmpl, "mysql") {
				encoded = kvQuote(pw)
			}
			in := strings.Replace(tmpl, "{PW}", encoded, 1)
			i, err := Parse(in)
			if err == nil {
				if pw != "" && !strings.ContainsRune(pw, 0) && i.Password() != pw {
					t.Fatalf("Parse(%q).Password() = %q, want %q", in, i.Password(), pw)
				}
				continue
			}
			// Only a password that the neutral message does not already contain can leak.
			_, nerr := Parse(strings.Replace(tmpl, "{PW}", "Zq9", 1))
			text := ""
			if nerr != nil {
				text = nerr.Error()
			}
			for _, form := range []string{pw, pctEncode(pw)} {
				if len(form) >= 3 && !strings.Contains(text, form) && strings.Contains(err.Error(), form) {
					t.Fatalf("Parse(%q) error %q contains the password as %q", in, err, form)
				}
			}
		}
	}
}

// FuzzRedact checks that Redact never panics, agrees with Parse on strings that parse, and
// hides a password pasted unencoded and unquoted into a string that does not parse.
func FuzzRedact(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "s3cr@t:/p%w#?&=x")
	}
	f.Add("x://", "a@b:c")
	f.Fuzz(func(t *testing.T, s, pw string) {
		got := Redact(s)
		if i, err := Parse(s); err == nil && got != i.Redacted() {
			t.Fatalf("Redact(%q) = %q, want Redacted %q", s, got, i.Redacted())
		}
		if pw == "" {
			return
		}
		// Each raw form is a prefix, the password, and a suffix.
		raw := [][2]string{
			{"postgres://u:", "@h/db"},
			{"postgres://u:", "@h:99999/db"},
			{"mysql://u:", "@h/db"},
			{"postgres://h/db?password=", "&port=99999"},
			{"host=h password=", " port=99999"},
			{"host=h password='", "' port=99999"},
			{"host=h password='", ""},
		}
		for _, r := range raw {
			for _, c := range [][2]string{{"", ""}, {s + " ", ""}, {"", " " + s}, {s, ""}} {
				prefix, suffix := c[0]+r[0], r[1]+c[1]
				in := prefix + pw + suffix
				if _, err := Parse(in); err == nil {
					continue // what parses is checked by FuzzParse
				}
				if !covered(secretSpans(in), len(prefix), len(prefix)+len(pw)) {
					t.Fatalf("Redact(%q) = %q does not mask the password %q", in, Redact(in), pw)
				}
			}
		}
	})
}

// covered reports whether the disjoint spans cover [from, to).
func covered(spans [][2]int, from, to int) bool {
	for _, sp := range spans {
		if sp[0] <= from && to <= sp[1] {
			return true
		}
	}
	return false
}

// pieceToken marks the pieces of FuzzPasswordPieces's password; no fixed text holds it.
const pieceToken = "QZJ"

// FuzzPasswordPieces writes a password into a connection string as a careless author would,
// unencoded and unquoted: tokens found nowhere else ("QZJ0", "QZJ1", …) with a fuzzed byte
// between each two. However the bytes cut the password, no piece of it may show: not in
// Parse's error, not in Redact, and when the string parses, not in Redacted, the fmt forms
// or KeywordValue (pg_dump's command line). What parses in the URL form holds the whole
// password, so no piece went to the host, port, database name or a query parameter.
func FuzzPasswordPieces(f *testing.F) {
	f.Add("# /:", "host:5432/app")
	f.Add("@/", "h1:5432,h2:5433/app?sslmode=disable")
	f.Add("?&=", "host/app")
	f.Add("/@", "host:5432/app?application_name=x")
	f.Add(" =", "dbname=app")
	f.Add("'\\%", "port=5432")
	f.Add(",[]:", "[::1]:5432/app")
	f.Fuzz(func(t *testing.T, seps, tail string) {
		if len(seps) > 8 {
			seps = seps[:8]
		}
		if upper := strings.ToUpper(tail); strings.Contains(upper, "Q") || strings.Contains(upper, "%51") || strings.Contains(upper, "%71") {
			return // a token's start could come from the tail, raw or percent-encoded
		}
		var b strings.Builder
		for k := 0; k < len(seps); k++ {
			fmt.Fprintf(&b, "%s%d%c", pieceToken, k, seps[k])
		}
		fmt.Fprintf(&b, "%s%d", pieceToken, len(seps))
		pw := b.String()
		// A password starting with digits: cut at a '/' or '?', its start reads as a port.
		digits := "5432" + strings.TrimPrefix(pw, pieceToken+"0")
		for in, want := range map[string]string{
			"postgres://user:" + pw + "@" + tail:     pw,
			"postgresql://:" + pw + "@" + tail:       pw,
			"postgres://user:" + digits + "@" + tail: digits,
			"host=h password=" + pw + " " + tail:     "",
		} {
			outputs := map[string]string{"Redact": Redact(in)}
			i, err := Parse(in)
			if err != nil {
				outputs["error"] = err.Error()
			} else {
				outputs["Redacted"] = i.Redacted()
				outputs["KeywordValue"] = i.KeywordValue()
				outputs["fmt"] = fmt.Sprintf("%v %+v %#v %s", i, i, i, i)
				if want != "" && !strings.Contains(tail, "password") && !strings.Contains(want, "%") && i.Password() != want {
					t.Errorf("Parse(%q) took the password as %q, want all of %q", in, i.Password(), want)
				}
			}
			for what, out := range outputs {
				if k := strings.Index(out, pieceToken); k >= 0 {
					t.Errorf("%s of %q = %q shows a piece of the password at %d", what, in, out, k)
				}
			}
		}
	})
}
