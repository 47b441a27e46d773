package export

import "testing"

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Name
	}{
		{"accounts", Name{Name: "accounts"}},
		{"app.accounts", Name{Schema: "app", Name: "accounts"}},
		{"App.Accounts", Name{Schema: "App", Name: "Accounts"}}, // taken as typed
		{`"Odd Schema"."Weird ""Table"" ünï"`, Name{Schema: "Odd Schema", Name: `Weird "Table" ünï`}},
		{`"a.b".c`, Name{Schema: "a.b", Name: "c"}},
		{`a."b.c"`, Name{Schema: "a", Name: "b.c"}},
		{`""""`, Name{Name: `"`}},
	} {
		got, err := ParseName(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseName(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if back, err := ParseName(got.String()); err != nil || back != got {
			t.Errorf("ParseName(%q.String() = %q) = %+v, %v; want it back", tc.in, got.String(), back, err)
		}
	}
	for _, bad := range []string{"", ".", "a.", ".b", "a.b.c", `"a`, `"a"b`, `a.""x`} {
		if got, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestIdentAndKeys(t *testing.T) {
	for in, want := range map[string]string{
		"accounts": "accounts", "a_1$": "a_1$", "Accounts": `"Accounts"`, "1a": `"1a"`,
		"a b": `"a b"`, `q"`: `"q"""`, "ünï": `"ünï"`, "": `""`,
	} {
		if got := Ident(in); got != want {
			t.Errorf("Ident(%q) = %s, want %s", in, got, want)
		}
	}
	for _, n := range []Name{{"app", "accounts"}, {"Odd Schema", `Weird "T" ü`}, {"a.b", "c.d"}} {
		got, ok := parseKey(n.Key())
		if !ok || got != n {
			t.Errorf("parseKey(%s) = %+v, %t; want %+v", n.Key(), got, ok, n)
		}
	}
	if _, ok := parseKey("app.accounts"); ok {
		t.Errorf("parseKey accepts an unquoted key")
	}
}
