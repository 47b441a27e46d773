package pgsnap

import (
	"strings"
	"testing"
	"time"
)

func TestSnapshotNameRoundTrip(t *testing.T) {
	tests := []struct {
		target string
		at     time.Time
		want   string
	}{
		{"app", time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC), "app-20261124T030000Z"},
		{"my-app.v2", time.Date(2028, 2, 29, 23, 59, 59, 999, time.UTC), "my-app.v2-20280229T235959Z"},
		{"x", time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), "x-20260101T000000Z"},
	}
	for _, tc := range tests {
		got := snapshotName(tc.target, tc.at)
		if got != tc.want {
			t.Errorf("snapshotName(%q, %v) = %q, want %q", tc.target, tc.at, got, tc.want)
		}
		target, at, err := parseSnapshotName(got)
		if err != nil || target != tc.target || !at.Equal(tc.at.Truncate(time.Second)) {
			t.Errorf("parseSnapshotName(%q) = %q, %v, %v; want %q, %v", got, target, at, err, tc.target, tc.at)
		}
	}
}

func TestParseSnapshotNameRejects(t *testing.T) {
	for _, name := range []string{"", "app", "-20261124T030000Z", "app-2026", "app-20261124T030000", "notes", "app-20261324T030000Z", ".app-20261124T030000Z"} {
		if _, _, err := parseSnapshotName(name); err == nil {
			t.Errorf("parseSnapshotName(%q) = nil error, want an error", name)
		}
	}
}

func TestTargetFromDatabase(t *testing.T) {
	tests := map[string]string{
		"app":                   "app",
		"my app":                "my_app",
		"_private":              "db_private",
		"école":                 "db__cole",
		strings.Repeat("a", 80): strings.Repeat("a", 63),
	}
	for db, want := range tests {
		got := targetFromDatabase(db)
		if got != want {
			t.Errorf("targetFromDatabase(%q) = %q, want %q", db, got, want)
		}
		if err := validTarget(got); err != nil {
			t.Errorf("targetFromDatabase(%q) = %q, not valid: %v", db, got, err)
		}
	}
}

func FuzzParseSnapshotName(f *testing.F) {
	f.Add("app-20261124T030000Z")
	f.Add("a-b-c-20000101T000000Z")
	f.Fuzz(func(t *testing.T, name string) {
		target, at, err := parseSnapshotName(name)
		if err != nil {
			return
		}
		if got := snapshotName(target, at); got != name {
			t.Errorf("snapshotName(parseSnapshotName(%q)) = %q", name, got)
		}
	})
}
