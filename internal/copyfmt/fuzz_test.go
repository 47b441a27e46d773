package copyfmt

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// refRow is a row as the reference reader below decodes it: values, nil for NULL.
type refRow []*string

// refRows decodes COPY text one byte at a time, as CopyReadLineText and
// CopyReadAttributesText read it, independently of the package's code: a backslash escapes the
// next byte wherever it is, a line \. ends the data, and a last line may lack its newline.
func refRows(text []byte) [][]byte {
	var lines [][]byte
	var line []byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\' && i+1 < len(text):
			line = append(line, c, text[i+1])
			i++
		case c == '\n':
			lines = append(lines, line)
			line = nil
		default:
			line = append(line, c)
		}
	}
	if len(line) > 0 {
		lines = append(lines, line)
	}
	for i, l := range lines {
		if string(l) == `\.` {
			return lines[:i]
		}
	}
	return lines
}

func refFields(line []byte, ncols int) refRow {
	if ncols == 0 && len(line) == 0 {
		return refRow{}
	}
	var row refRow
	var raw, val []byte
	end := func() {
		if string(raw) == `\N` {
			row = append(row, nil)
		} else {
			s := string(val)
			row = append(row, &s)
		}
		raw, val = nil, nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\t' {
			end()
			continue
		}
		raw = append(raw, c)
		if c != '\\' {
			val = append(val, c)
			continue
		}
		if i+1 >= len(line) {
			break
		}
		i++
		c = line[i]
		raw = append(raw, c)
		switch {
		case c >= '0' && c <= '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(line) && line[i+1] >= '0' && line[i+1] <= '7'; k++ {
				i++
				raw = append(raw, line[i])
				v = v*8 + int(line[i]-'0')
			}
			c = byte(v & 0o377)
		case c == 'x' && i+1 < len(line) && isHex(line[i+1]):
			v := 0
			for k := 0; k < 2 && i+1 < len(line) && isHex(line[i+1]); k++ {
				i++
				raw = append(raw, line[i])
				v = v*16 + int(unhex(line[i]))
			}
			c = byte(v)
		default:
			if r := strings.IndexByte("bfnrtv", c); r >= 0 {
				c = "\b\f\n\r\t\v"[r]
			}
		}
		val = append(val, c)
	}
	end()
	return row
}

// FuzzWriter converts arbitrary COPY text to CSV and JSON lines, written in two pieces. Neither
// may panic; a row with a field count other than the columns' must be an error; otherwise the
// CSV must read back with encoding/csv to the header and the values (NULL as an empty field),
// and each JSON line to the values, NULL as null.
func FuzzWriter(f *testing.F) {
	f.Add([]byte("1\tplain\t\\N\n2\t\"q\",\\r\\n\t\\\\.\n"), uint8(3), uint16(5))
	f.Add([]byte("\\.\n\\\\.\n\n\\N\n"), uint8(1), uint16(1))
	f.Add([]byte("a\\\nb\tc\\\td\\101\\x4g\\777\n\\.\nx\n"), uint8(2), uint16(4))
	f.Add([]byte("\xff\xfe\t\u2028\n\r\t\x00"), uint8(2), uint16(0))
	f.Add([]byte("\n\n"), uint8(0), uint16(1))
	f.Fuzz(func(t *testing.T, text []byte, ncols uint8, split uint16) {
		cols := make([]string, ncols%6)
		for i := range cols {
			cols[i] = string(rune('a'+i)) + ",\"\n" // names that need quoting
		}
		var want []refRow
		bad := false
		for _, line := range refRows(text) {
			row := refFields(line, len(cols))
			bad = bad || len(row) != len(cols)
			want = append(want, row)
		}
		at := min(int(split), len(text))
		for _, f := range []Format{CSV, JSONL} {
			var out bytes.Buffer
			w, _ := NewWriter(&out, f, cols)
			_, err := w.Write(text[:at])
			if err == nil {
				_, err = w.Write(text[at:])
			}
			if err == nil {
				err = w.Close()
			}
			if bad != (err != nil) {
				t.Fatalf("%s: error = %v, but a row has another field count than the %d columns: %t", f, err, len(cols), bad)
			}
			if err != nil {
				continue
			}
			if f == CSV {
				checkCSV(t, out.Bytes(), cols, want)
			} else {
				checkJSONL(t, out.Bytes(), want)
			}
		}
	})
}

func checkCSV(t *testing.T, out []byte, cols []string, want []refRow) {
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = -1
	got, err := r.ReadAll()
	if err != nil {
		t.Fatalf("CSV %q does not read back: %v", out, err)
	}
	// encoding/csv skips empty lines, which are the header and rows of a table without
	// columns and a NULL in a table of one column; and it reads CR LF in a value as LF.
	var records [][]string
	if len(cols) > 0 {
		records = append(records, norm(cols))
	}
	for _, row := range want {
		if len(row) == 0 || len(row) == 1 && row[0] == nil {
			continue
		}
		rec := make([]string, len(row))
		for i, v := range row {
			if v != nil {
				rec[i] = *v
			}
		}
		records = append(records, norm(rec))
	}
	if diff := cmp.Diff(records, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("CSV %q reads back as (-want +got):\n%s", out, diff)
	}
}

func norm(rec []string) []string {
	out := make([]string, len(rec))
	for i, s := range rec {
		out[i] = strings.ReplaceAll(s, "\r\n", "\n")
	}
	return out
}

func checkJSONL(t *testing.T, out []byte, want []refRow) {
	dec := json.NewDecoder(bytes.NewReader(out))
	for i, row := range want {
		var obj map[string]*string
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("JSONL line %d of %q: %v", i+1, out, err)
		}
		if len(obj) != len(row) {
			t.Fatalf("JSONL line %d has %d keys, want %d", i+1, len(obj), len(row))
		}
		for k, v := range row {
			got := obj[string(rune('a'+k))+",\"\n"]
			switch {
			case v == nil && got != nil:
				t.Fatalf("JSONL line %d value %d = %q, want null", i+1, k, *got)
			case v != nil && (got == nil || *got != validUTF8(*v)):
				t.Fatalf("JSONL line %d value %d = %v, want %q", i+1, k, got, validUTF8(*v))
			}
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("JSONL %q has more lines than rows", out)
	}
}

// validUTF8 replaces each byte that is not UTF-8 with U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += size
	}
	return b.String()
}
