package schedule

import (
	"errors"
	"testing"
	"time"
)

func FuzzParseDaily(f *testing.F) {
	seeds := []string{
		"00:00", "03:00", "23:59", "25:00", "24:00", "24:30", "12:60", "7:5", "07:5",
		"7:05", "", " 03:00", "03:00 ", "12:00:00", "3pm", "12:00pm", "noon", "03h00",
		"0300", "-1:00", "03:00Z", "03:00+02:00", "03:00\n", "٠٣:٠٠", "０３:００", "\xff\xfe",
	}
	for i, s := range seeds {
		f.Add(s, int64(1_795_000_000+i*3_607), int64(i*123_456_789), int32(i*3_600-36_000))
	}
	// Instants stay within years 0001-9999: beyond that time.Time
	// arithmetic itself wraps, which says nothing about Daily.
	fuzzMin := time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC).Unix()
	fuzzMax := time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC).Unix()
	f.Fuzz(func(t *testing.T, s string, sec, nsec int64, zoneOffset int32) {
		d, err := ParseDaily(s)
		if err != nil {
			if d != (Daily{}) {
				t.Fatalf("ParseDaily(%q) = %+v, %v; want the zero Daily with an error", s, d, err)
			}
			return
		}
		if got := d.String(); got != s {
			t.Fatalf("ParseDaily(%q).String() = %q, want %q", s, got, s)
		}
		if err := d.Valid(); err != nil {
			t.Fatalf("ParseDaily(%q).Valid() = %v, want nil", s, err)
		}

		span := fuzzMax - fuzzMin
		sec = fuzzMin + ((sec%span)+span)%span
		nsec = ((nsec % 1e9) + 1e9) % 1e9
		// Any offset within a day, so inputs arrive in arbitrary zones.
		loc := time.FixedZone("fuzz", int(zoneOffset%(24*3600)))
		at := time.Unix(sec, nsec).In(loc)

		next, prev := d.Next(at), d.Prev(at)
		if !next.After(at) {
			t.Fatalf("%v.Next(%v) = %v, want after the input", d, at, next)
		}
		if next.Sub(at) > 24*time.Hour {
			t.Fatalf("%v.Next(%v) = %v, want at most 24h after the input", d, at, next)
		}
		if prev.After(at) {
			t.Fatalf("%v.Prev(%v) = %v, want at or before the input", d, at, prev)
		}
		if at.Sub(prev) >= 24*time.Hour {
			t.Fatalf("%v.Prev(%v) = %v, want less than 24h before the input", d, at, prev)
		}
		if again := d.Next(prev); !again.After(at) {
			t.Fatalf("%v.Next(Prev(%v)) = %v, want after the input", d, at, again)
		}
		for _, slot := range []time.Time{next, prev} {
			if slot.Location() != time.UTC || slot.Hour() != d.Hour || slot.Minute() != d.Minute ||
				slot.Second() != 0 || slot.Nanosecond() != 0 {
				t.Fatalf("%v slot %v for input %v, want %v:00 UTC", d, slot, at, d)
			}
		}
		if got := d.Prev(next); !got.Equal(next) {
			t.Fatalf("%v.Prev(%v) = %v, want the slot itself", d, next, got)
		}
	})
}

func FuzzParseCron(f *testing.F) {
	seeds := []string{
		"30 2 * * *", "*/15 * * * *", "0 9-17/2 * * MON-FRI", "0 22-2 * * *", "0 0 29 2 *",
		"0 3 1 * MON", "5/20 * * * *", "0,30 1,13 1,15 jan,Jul *", "0\t3  * * *", "@hourly",
		"@daily", "@weekly", "@monthly", "@yearly", "@every 1h", "@reboot", "", " 0 3 * * *",
		"60 * * * *", "0 30 2 * * *", "0 0 30 2 *", "*/0 * * * *", "*/60 * * * *", "0 0 L * *",
		"H 3 * * *", "TZ=UTC 0 3 * * *", "0 0 ? * MON", "99999999999 * * * *", "-1 * * * *",
		"0 0 * * 0-7/7", "1-5,7-9/2,*/3 * * * *", "\xff\xfe",
	}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Sao_Paulo"}
	for i, s := range seeds {
		f.Add(s, int64(1_795_000_000+i*3_607), int64(i*123_456_789), uint8(i))
	}
	// Instants stay within years 1900-2300: far outside it zone rules and
	// calendar arithmetic say nothing about the parser.
	fuzzMin := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	fuzzMax := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	f.Fuzz(func(t *testing.T, expr string, sec, nsec int64, zone uint8) {
		loc, err := ParseTZ(zones[int(zone)%len(zones)])
		if err != nil {
			t.Fatalf("ParseTZ: %v", err)
		}
		c, err := ParseCron(expr, loc)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Value != expr || c.spec != nil {
				t.Fatalf("ParseCron(%q) = %v, %#v; want the zero Cron and a *ParseError with the value", expr, c, err)
			}
			return
		}
		again, err := ParseCron(c.String(), loc)
		if err != nil || !again.Equal(c) || again.String() != c.String() {
			t.Fatalf("ParseCron(ParseCron(%q).String() = %q) = %v, %v; want the same schedule", expr, c.String(), again, err)
		}
		span := fuzzMax - fuzzMin
		sec = fuzzMin + ((sec%span)+span)%span
		nsec = ((nsec % 1e9) + 1e9) % 1e9
		checkContract(t, c, time.Unix(sec, nsec))
	})
}
