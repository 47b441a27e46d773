package schedule

import (
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
