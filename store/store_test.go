package store_test

import (
	"strings"
	"testing"

	"github.com/pgsnap/pgsnap/store"
)

func TestValidKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     string
		wantErr string // substring of the error; "" means valid
	}{
		{"plain", "db1-20240102T030405Z.dump.zst", ""},
		{"all classes", "aZ09._-", ""},
		{"single byte", "a", ""},
		{"inner dots", "a..b", ""},
		{"max length", strings.Repeat("k", 200), ""},
		{"empty", "", "empty"},
		{"too long", strings.Repeat("k", 201), "201 bytes"},
		{"leading dot", ".hidden", "starts with '.'"},
		{"dot", ".", "starts with '.'"},
		{"dotdot", "..", "starts with '.'"},
		{"traversal", "../x", "starts with '.'"},
		{"leading dash", "-rf", "starts with '-'"},
		{"slash", "a/b", `byte '/' at offset 1`},
		{"backslash", `a\b`, `byte '\\' at offset 1`},
		{"space", "a b", "byte ' '"},
		{"nul", "a\x00", `byte '\x00'`},
		{"non-ascii", "é", "byte"},
		{"colon", "a:b", "byte ':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := store.ValidKey(tt.key)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("ValidKey(%q) = %v, want nil", tt.key, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidKey(%q) = %v, want error containing %q", tt.key, err, tt.wantErr)
			}
		})
	}
}

// FuzzValidKey checks that ValidKey never panics, that every accepted key is a plain file name
// (no separator, not hidden, not a relative path element) and that errors say "invalid key".
func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"a", "", ".", "..", "../x", "a/b", "-x", "snap.dump", strings.Repeat("x", 201)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := store.ValidKey(key)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid key") {
				t.Errorf("ValidKey(%q) = %q, want prefix \"invalid key\"", key, err)
			}
			return
		}
		if key == "" || len(key) > 200 || strings.ContainsAny(key, "/\\\x00") ||
			key[0] == '.' || key[0] == '-' {
			t.Errorf("ValidKey(%q) = nil, want error", key)
		}
	})
}
