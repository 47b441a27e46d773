package schedule

import (
	"strings"
	"testing"

	"github.com/pgsnap/pgsnap/internal/invariants"
)

func TestParseDailyAccepts(t *testing.T) {
	invariants.Fault(t, "T23")
	t.Parallel()
	tests := []struct {
		in   string
		want Daily
	}{
		{"00:00", Daily{Hour: 0, Minute: 0}},
		{"03:00", Daily{Hour: 3, Minute: 0}},
		{"23:59", Daily{Hour: 23, Minute: 59}},
		{"12:34", Daily{Hour: 12, Minute: 34}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDaily(tt.in)
			if err != nil {
				t.Fatalf("ParseDaily(%q) error = %v, want nil", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseDaily(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("ParseDaily(%q).String() = %q, want %q", tt.in, s, tt.in)
			}
		})
	}
}

func TestParseDailyRejects(t *testing.T) {
	invariants.Fault(t, "T23")
	t.Parallel()
	tests := []struct {
		name, in string
		// quoted is how the value must appear in the message: escaped.
		quoted, problem string
	}{
		{"hour 25", "25:00", `"25:00"`, "hour 25 out of range"},
		{"hour 24", "24:00", `"24:00"`, "hour 24 out of range"},
		{"hour 24 with minutes", "24:30", `"24:30"`, "hour 24 out of range"},
		{"minute 60", "12:60", `"12:60"`, "minute 60 out of range"},
		{"single digits", "7:5", `"7:5"`, "not two digits"},
		{"single-digit minute", "07:5", `"07:5"`, "not two digits"},
		{"single-digit hour", "7:05", `"7:05"`, "not two digits"},
		{"empty", "", `""`, "empty"},
		{"leading space", " 03:00", `" 03:00"`, "white space"},
		{"trailing space", "03:00 ", `"03:00 "`, "white space"},
		{"seconds", "12:00:00", `"12:00:00"`, "not two digits"},
		{"3pm", "3pm", `"3pm"`, "not two digits"},
		{"12:00pm", "12:00pm", `"12:00pm"`, "not two digits"},
		{"noon", "noon", `"noon"`, "not two digits"},
		{"h separator", "03h00", `"03h00"`, "not two digits"},
		{"no separator", "0300", `"0300"`, "not two digits"},
		{"negative hour", "-1:00", `"-1:00"`, "not two digits"},
		{"zone suffix Z", "03:00Z", `"03:00Z"`, "not two digits"},
		{"zone offset", "03:00+02:00", `"03:00+02:00"`, "not two digits"},
		{"trailing newline", "03:00\n", `"03:00\n"`, "white space"},
		{"Arabic-Indic digits", "٠٣:٠٠", `"٠٣:٠٠"`, "ASCII"},
		{"fullwidth digits", "０３:００", `"０３:００"`, "ASCII"},
		{"fullwidth colon", "03：00", `"03：00"`, "not two digits"},
		{"NUL byte", "03:0\x00", `"03:0\x00"`, "not two digits"},
		{"invalid UTF-8", "03:0\xff", `"03:0\xff"`, "not two digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDaily(tt.in)
			if err == nil {
				t.Fatalf("ParseDaily(%q) = %+v, want an error", tt.in, got)
			}
			if got != (Daily{}) {
				t.Errorf("ParseDaily(%q) = %+v with an error, want the zero Daily", tt.in, got)
			}
			msg := err.Error()
			for _, want := range []string{tt.quoted, tt.problem, "HH:MM, 00:00–23:59, UTC"} {
				if !strings.Contains(msg, want) {
					t.Errorf("ParseDaily(%q) error = %q, want it to contain %q", tt.in, msg, want)
				}
			}
			if strings.Contains(msg, "SNAPSHOT_TIME") {
				t.Errorf("ParseDaily(%q) error = %q, want no setting name (the config layer adds it)", tt.in, msg)
			}
		})
	}
}

func TestDailyValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d       Daily
		wantErr string
	}{
		{Daily{0, 0}, ""},
		{Daily{23, 59}, ""},
		{Daily{24, 0}, "hour 24"},
		{Daily{-1, 0}, "hour -1"},
		{Daily{3, 60}, "minute 60"},
		{Daily{3, -1}, "minute -1"},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			t.Parallel()
			err := tt.d.Valid()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("%+v.Valid() = %v, want nil", tt.d, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("%+v.Valid() = %v, want an error containing %q", tt.d, err, tt.wantErr)
			}
		})
	}
}

func TestDailyString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    Daily
		want string
	}{
		{Daily{}, "00:00"},
		{Daily{3, 0}, "03:00"},
		{Daily{23, 59}, "23:59"},
		{Daily{9, 5}, "09:05"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := tt.d.String(); got != tt.want {
				t.Errorf("%+v.String() = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}
