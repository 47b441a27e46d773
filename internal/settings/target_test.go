package settings

import (
	"strings"
	"testing"
)

func TestTargetFromDatabase(t *testing.T) {
	tests := map[string]string{
		"app":                   "app",
		"my app":                "my_app",
		"_private":              "db_private",
		"école":                 "db__cole",
		strings.Repeat("a", 80): strings.Repeat("a", 63),
	}
	for db, want := range tests {
		got := TargetFromDatabase(db)
		if got != want {
			t.Errorf("TargetFromDatabase(%q) = %q, want %q", db, got, want)
		}
		if err := ValidTarget(got); err != nil {
			t.Errorf("TargetFromDatabase(%q) = %q, not valid: %v", db, got, err)
		}
	}
}
