package catalog

import (
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
		got := Name(tc.target, tc.at)
		if got != tc.want {
			t.Errorf("Name(%q, %v) = %q, want %q", tc.target, tc.at, got, tc.want)
		}
		target, at, err := ParseName(got)
		if err != nil || target != tc.target || !at.Equal(tc.at.Truncate(time.Second)) {
			t.Errorf("ParseName(%q) = %q, %v, %v; want %q, %v", got, target, at, err, tc.target, tc.at)
		}
	}
}

func TestParseSnapshotNameRejects(t *testing.T) {
	for _, name := range []string{"", "app", "-20261124T030000Z", "app-2026", "app-20261124T030000", "notes", "app-20261324T030000Z", ".app-20261124T030000Z"} {
		if _, _, err := ParseName(name); err == nil {
			t.Errorf("ParseName(%q) = nil error, want an error", name)
		}
	}
}

func FuzzParseSnapshotName(f *testing.F) {
	f.Add("app-20261124T030000Z")
	f.Add("a-b-c-20000101T000000Z")
	f.Fuzz(func(t *testing.T, name string) {
		target, at, err := ParseName(name)
		if err != nil {
			return
		}
		if got := Name(target, at); got != name {
			t.Errorf("Name(ParseName(%q)) = %q", name, got)
		}
	})
}
