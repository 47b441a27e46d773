package dump

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in         string
		want       Version
		wantString string
	}{
		{"pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", Version{15, 18, "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"}, "15.18"},
		{"pg_restore (PostgreSQL) 14.10\n", Version{14, 10, "pg_restore (PostgreSQL) 14.10"}, "14.10"},
		{"15.18", Version{15, 18, "15.18"}, "15.18"},
		{"15.18 (Ubuntu 15.18-1.pgdg22.04+1)", Version{15, 18, "15.18 (Ubuntu 15.18-1.pgdg22.04+1)"}, "15.18"},
		{"17beta1", Version{17, 0, "17beta1"}, "17beta1"},
		{"16rc1", Version{16, 0, "16rc1"}, "16rc1"},
		{"18devel", Version{18, 0, "18devel"}, "18devel"},
		{"9.6.24", Version{9, 6, "9.6.24"}, "9.6.24"},
		{"15", Version{15, 0, "15"}, "15"},
		{"PostgreSQL 15.18 on x86_64-pc-linux-gnu, compiled by gcc", Version{15, 18, "PostgreSQL 15.18 on x86_64-pc-linux-gnu, compiled by gcc"}, "15.18"},
		{"psql (PostgreSQL) 16.2\nsecond line", Version{16, 2, "psql (PostgreSQL) 16.2"}, "16.2"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseVersion(tt.in)
			if err != nil {
				t.Fatalf("ParseVersion(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseVersion(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if got.String() != tt.wantString {
				t.Errorf("ParseVersion(%q).String() = %q, want %q", tt.in, got.String(), tt.wantString)
			}
		})
	}
}

func TestParseVersionInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "pg_dump (PostgreSQL)", "no version here", "15.x", "15.18.1.2", "15gamma", "1.2.3.4"} {
		if got, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) = %+v, want an error", in, got)
		}
	}
}

func TestVersionString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    Version
		want string
	}{
		{Version{Major: 15, Minor: 18}, "15.18"},
		{Version{Major: 15}, "15.0"},
		{Version{Major: 15, Minor: 4, Raw: "16.1"}, "15.4"}, // Raw that disagrees is ignored
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestServerVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if e.server.Major != e.c.Version || e.server.Raw == "" {
		t.Errorf("ServerVersion() = %+v, want major %d and the server_version text", e.server, e.c.Version)
	}
	if !strings.HasPrefix(e.server.Raw, e.server.String()) {
		t.Errorf("ServerVersion() String %q is not the start of server_version %q", e.server.String(), e.server.Raw)
	}

	wrong := mustParse(t, e.c.URL("postgres")).With("password", "wrong-"+e.c.Password)
	_, err := ServerVersion(t.Context(), wrong)
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("ServerVersion with a wrong password = %v, want an authentication error", err)
	}
	checkNoSecret(t, "error", err.Error(), "wrong-"+e.c.Password)
	checkNoSecret(t, "error", err.Error(), e.c.Password)
}
