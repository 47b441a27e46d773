package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseCronAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want is String()
	}{
		{"30 2 * * *", "30 2 * * *"},
		{"0 3 * * *", "0 3 * * *"},
		{"*/15 * * * *", "*/15 * * * *"},
		{"0 */6 * * *", "0 */6 * * *"},
		{"5/20 * * * *", "5/20 * * * *"},
		{"0 9-17/2 * * MON-FRI", "0 9-17/2 * * MON-FRI"},
		{"0 22-2 * * *", "0 22-2 * * *"},
		{"0 0 * * fri-mon", "0 0 * * fri-mon"},
		{"0,30 1,13 1,15 jan,Jul *", "0,30 1,13 1,15 jan,Jul *"},
		{"0 0 29 2 *", "0 0 29 2 *"},
		{"0 0 31 * *", "0 0 31 * *"},
		{"0 0 * * 7", "0 0 * * 7"},
		{"0 0 * * 0-7/7", "0 0 * * 0-7/7"},
		{"00 03 * * *", "00 03 * * *"},
		{"0\t3  *   * *", "0 3 * * *"},
		{"@hourly", "@hourly"},
		{"@daily", "@daily"},
		{"@midnight", "@midnight"},
		{"@weekly", "@weekly"},
		{"@monthly", "@monthly"},
		{"@yearly", "@yearly"},
		{"@annually", "@annually"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCron(tt.in, nil)
			if err != nil {
				t.Fatalf("ParseCron(%q, nil) error = %v, want nil", tt.in, err)
			}
			if s := got.String(); s != tt.want {
				t.Errorf("ParseCron(%q, nil).String() = %q, want %q", tt.in, s, tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("ParseCron(%q, nil).Location() = %v, want UTC", tt.in, got.Location())
			}
			again, err := ParseCron(got.String(), nil)
			if err != nil || !again.Equal(got) {
				t.Errorf("ParseCron(%q) = %v, %v; want a schedule equal to %v", got.String(), again, err, got)
			}
		})
	}
}

func TestParseCronRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		// quoted is how the value must appear in the message: escaped.
		quoted, problem string
	}{
		{"empty", "", `""`, "empty"},
		{"leading space", " 0 3 * * *", `" 0 3 * * *"`, "white space"},
		{"trailing newline", "0 3 * * *\n", `"0 3 * * *\n"`, "white space"},
		{"garbage", "every day at three", `"every day at three"`, "4 fields"},
		{"one field", "3", `"3"`, "1 field"},
		{"four fields", "0 3 * *", `"0 3 * *"`, "4 fields"},
		{"seconds", "0 30 2 * * *", `"0 30 2 * * *"`, "6 fields: seconds and years are not supported"},
		{"seconds and year", "0 30 2 * * * 2027", `"0 30 2 * * * 2027"`, "7 fields"},
		{"minute 60", "60 * * * *", `"60 * * * *"`, `minute field "60": 60 out of range 0-59`},
		{"hour 24", "0 24 * * *", `"0 24 * * *"`, `hour field "24": 24 out of range 0-23`},
		{"day 0", "0 0 0 * *", `"0 0 0 * *"`, `day-of-month field "0": 0 out of range 1-31`},
		{"day 32", "0 0 32 * *", `"0 0 32 * *"`, "32 out of range 1-31"},
		{"month 13", "0 0 1 13 *", `"0 0 1 13 *"`, `month field "13": 13 out of range 1-12`},
		{"weekday 8", "0 0 * * 8", `"0 0 * * 8"`, `day-of-week field "8": 8 out of range 0-7`},
		{"huge number", "99999999999 * * * *", `"99999999999 * * * *"`, "99999999999 out of range 0-59"},
		{"negative", "-1 * * * *", `"-1 * * * *"`, `minute field "-1": missing number`},
		{"plus sign", "+5 * * * *", `"+5 * * * *"`, `"+5" is not a number 0-59`},
		{"unknown name", "0 0 * * MONDAY", `"0 0 * * MONDAY"`, `"MONDAY" is not a number 0-7 or a name such as MON`},
		{"name in minute field", "MON 0 * * *", `"MON 0 * * *"`, `"MON" is not a number 0-59`},
		{"step 0", "*/0 * * * *", `"*/0 * * * *"`, "step 0"},
		{"step too large", "*/60 * * * *", `"*/60 * * * *"`, "step 60 not less than the 60 values"},
		{"step over a short range", "0 1-5/6 * * *", `"0 1-5/6 * * *"`, "step 6 not less than the 5 values"},
		{"step not a number", "*/x * * * *", `"*/x * * * *"`, `step "x" is not a number`},
		{"empty list item", "0,,30 * * * *", `"0,,30 * * * *"`, "empty list item"},
		{"question mark", "0 0 ? * MON", `"0 0 ? * MON"`, `"?" is not a number`},
		{"last day L", "0 0 L * *", `"0 0 L * *"`, `"L" is not a number`},
		{"nth weekday", "0 0 * * FRI#3", `"0 0 * * FRI#3"`, `"FRI#3" is not a number`},
		{"hash H", "H 3 * * *", `"H 3 * * *"`, `"H" is not a number`},
		{"every", "@every 1h", `"@every 1h"`, "@every is not supported"},
		{"reboot", "@reboot", `"@reboot"`, "unknown descriptor"},
		{"descriptor case", "@Daily", `"@Daily"`, "unknown descriptor"},
		{"TZ prefix", "TZ=Europe/Berlin 30 2 * * *", `"TZ=Europe/Berlin 30 2 * * *"`, "TZ= prefix"},
		{"CRON_TZ prefix", "CRON_TZ=UTC 30 2 * * *", `"CRON_TZ=UTC 30 2 * * *"`, "TZ= prefix"},
		{"30 February", "0 0 30 2 *", `"0 0 30 2 *"`, "no date matches"},
		{"31 April and June", "0 0 31 4,6 *", `"0 0 31 4,6 *"`, "no date matches"},
		{"non-breaking space", "0\u00a03 * * * *", `"0\u00a03 * * * *"`, `"0\u00a03" is not a number`},
		{"fullwidth digit", "０ 3 * * *", `"０ 3 * * *"`, "is not a number"},
		{"NUL byte", "0 3 * * *\x00", `"0 3 * * *\x00"`, "is not a number"},
		{"too long", strings.Repeat("1,", 200) + "1 * * * *", `"1,1,`, "longer than 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCron(tt.in, time.UTC)
			if err == nil {
				t.Fatalf("ParseCron(%q) = %v, want an error", tt.in, got)
			}
			if !got.Equal(Cron{}) || got.spec != nil {
				t.Errorf("ParseCron(%q) = %#v with an error, want the zero Cron", tt.in, got)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Value != tt.in {
				t.Fatalf("ParseCron(%q) error = %#v, want a *ParseError with the value", tt.in, err)
			}
			msg := err.Error()
			for _, want := range []string{"invalid cron schedule", tt.quoted, tt.problem, "minute hour day-of-month month day-of-week", "@daily"} {
				if !strings.Contains(msg, want) {
					t.Errorf("ParseCron(%q) error = %q, want it to contain %q", tt.in, msg, want)
				}
			}
			if strings.Contains(msg, "SNAPSHOT_") || strings.Contains(msg, "failed to") {
				t.Errorf("ParseCron(%q) error = %q, want no setting name and no \"failed to\"", tt.in, msg)
			}
		})
	}
}

func TestParseTZ(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Etc/GMT+5"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			loc, err := ParseTZ(name)
			if err != nil {
				t.Fatalf("ParseTZ(%q) error = %v, want nil", name, err)
			}
			if loc.String() != name {
				t.Errorf("ParseTZ(%q) = %v, want that zone", name, loc)
			}
		})
	}
	rejects := []struct {
		name, in, problem string
	}{
		{"empty", "", "empty"},
		{"Local", "Local", "depends on the machine"},
		{"wrong case", "europe/berlin", "unknown time zone"},
		{"unknown", "Mars/Olympus", "unknown time zone"},
		{"offset", "+02:00", "unknown time zone"},
		{"leading space", " UTC", "white space"},
		{"trailing newline", "UTC\n", "white space"},
		{"path escape", "../../etc/passwd", "unknown time zone"},
		{"absolute path", "/etc/localtime", "unknown time zone"},
		{"non-ASCII", "Europe/Zürich", "not an ASCII zone name"},
		{"NUL byte", "UTC\x00", "not an ASCII zone name"},
	}
	for _, tt := range rejects {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			loc, err := ParseTZ(tt.in)
			if err == nil {
				t.Fatalf("ParseTZ(%q) = %v, want an error", tt.in, loc)
			}
			if loc != nil {
				t.Errorf("ParseTZ(%q) = %v with an error, want nil", tt.in, loc)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Value != tt.in {
				t.Fatalf("ParseTZ(%q) error = %#v, want a *ParseError with the value", tt.in, err)
			}
			msg := err.Error()
			for _, want := range []string{"invalid time zone", tt.problem, "IANA time zone name"} {
				if !strings.Contains(msg, want) {
					t.Errorf("ParseTZ(%q) error = %q, want it to contain %q", tt.in, msg, want)
				}
			}
		})
	}
}

func TestCronLocationAndEqual(t *testing.T) {
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	berlinAgain := mustLoad(t, "Europe/Berlin")
	a := mustCron(t, "30 2 * * *", berlin)
	tests := []struct {
		name string
		b    Cron
		want bool
	}{
		{"same zone loaded twice", mustCron(t, "30  2 * * *", berlinAgain), true},
		{"other zone", mustCron(t, "30 2 * * *", time.UTC), false},
		{"other expression", mustCron(t, "31 2 * * *", berlin), false},
		{"zero Cron", Cron{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := a.Equal(tt.b); got != tt.want {
				t.Errorf("%v.Equal(%v) = %v, want %v", a, tt.b, got, tt.want)
			}
		})
	}
	if got := a.Location(); got != berlin {
		t.Errorf("Location() = %v, want %v", got, berlin)
	}
}

// The zero Cron is documented to have no slots; it must not panic.
func TestZeroCron(t *testing.T) {
	t.Parallel()
	var c Cron
	at := utc(2026, 11, 24, 3, 0, 0, 0)
	if got := c.Next(at); !got.IsZero() {
		t.Errorf("Cron{}.Next(%v) = %v, want the zero time", at, got)
	}
	if got := c.Prev(at); !got.IsZero() {
		t.Errorf("Cron{}.Prev(%v) = %v, want the zero time", at, got)
	}
	if got := Interval(c, at); got != 0 {
		t.Errorf("Interval(Cron{}, %v) = %v, want 0", at, got)
	}
	if got := c.String(); got != "" {
		t.Errorf("Cron{}.String() = %q, want \"\"", got)
	}
	if got := c.Location(); got != time.UTC {
		t.Errorf("Cron{}.Location() = %v, want UTC", got)
	}
}

// The daily form's message must not change with the new ParseError fields.
func TestParseErrorDefaultsToDailyForm(t *testing.T) {
	t.Parallel()
	err := &ParseError{Value: "25:00", Problem: "hour 25 out of range 00-23"}
	want := `invalid time "25:00": hour 25 out of range 00-23 (want HH:MM, 00:00–23:59, UTC)`
	if got := err.Error(); got != want {
		t.Errorf("ParseError.Error() = %q, want %q", got, want)
	}
}

func mustCron(t *testing.T, expr string, loc *time.Location) Cron {
	t.Helper()
	c, err := ParseCron(expr, loc)
	if err != nil {
		t.Fatalf("ParseCron(%q, %v) error = %v", expr, loc, err)
	}
	return c
}
