package copyfmt

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// convert writes input to a new Writer in pieces of the given size (0: whole) and returns the
// output.
func convert(t testing.TB, f Format, columns []string, input string, piece int) (string, error) {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, f, columns)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(input)
	for len(b) > 0 {
		n := len(b)
		if piece > 0 {
			n = min(n, piece)
		}
		if _, err := w.Write(b[:n]); err != nil {
			return out.String(), err
		}
		b = b[n:]
	}
	err = w.Close()
	return out.String(), err
}

func TestDecodeField(t *testing.T) {
	tests := []struct{ raw, want string }{
		{``, ``},
		{`plain`, `plain`},
		{`a\tb\nc\rd\\e`, "a\tb\nc\rd\\e"},
		{`\b\f\v`, "\b\f\v"},
		{`\101\1012\7\08`, "AA2\a\x008"},
		{`\777`, "\xff"}, // the high bit falls off: 0777 & 0377
		{`\x41\x4a\x4G\xg\x`, "AJ\x04Gxgx"},
		{`\.\N\q\"`, `.Nq"`},
		{"\\\t", "\t"},
		{`trailing\`, `trailing`},
		{`ü\ü`, "üü"},
	}
	for _, tc := range tests {
		if got := string(decodeField(nil, []byte(tc.raw))); got != tc.want {
			t.Errorf("decodeField(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestSplitRow(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"", []string{""}},
		{"a", []string{"a"}},
		{"a\tb\t", []string{"a", "b", ""}},
		{"a\\\tb\tc", []string{"a\\\tb", "c"}},
		{"a\\\\\tb", []string{"a\\\\", "b"}},
		{"\\N\t\\N", []string{`\N`, `\N`}},
	}
	for _, tc := range tests {
		var got []string
		fields, _ := splitRow(nil, []byte(tc.line))
		for _, f := range fields {
			got = append(got, string(f))
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("splitRow(%q) mismatch (-want +got):\n%s", tc.line, diff)
		}
	}
}

func TestLineEnd(t *testing.T) {
	tests := []struct {
		prefix, b string
		want      int
	}{
		{"", "abc", -1},
		{"", "a\nb", 1},
		{"", "a\\\nb\n", 4},   // an escaped newline belongs to the value
		{"", "a\\\\\nb\n", 3}, // an escaped backslash does not escape the newline
		{"a\\", "\nb\n", 2},
		{"a\\\\", "\nb\n", 0},
		{"\\", "\\\\\n\n", 3}, // three backslashes in all
	}
	for _, tc := range tests {
		if got := lineEnd([]byte(tc.prefix), []byte(tc.b)); got != tc.want {
			t.Errorf("lineEnd(%q, %q) = %d, want %d", tc.prefix, tc.b, got, tc.want)
		}
	}
}

// TestFormats converts rows with every escape and quoting rule into each format, whole and in
// pieces of every small size.
func TestFormats(t *testing.T) {
	cols := []string{"id", "a,b", `say "hi"`, "tab\there"}
	input := "1\tplain\t\\N\t\n" +
		"2\tcomma,here\tquote\"here\tCR\\rLF\\nTAB\\t\n" +
		"3\t\\\\.\t\\.\tback\\\\slash\n" +
		"4\tünï 🐘\t\\x41\\101\t\\\\N\n"
	tests := []struct {
		f    Format
		want string
	}{
		{CSV, "id,\"a,b\",\"say \"\"hi\"\"\",tab\there\n" +
			"1,plain,,\"\"\n" +
			"2,\"comma,here\",\"quote\"\"here\",\"CR\rLF\nTAB\t\"\n" +
			"3,\\.,.,back\\slash\n" +
			"4,ünï 🐘,AA,\\N\n"},
		{Text, input},
		{JSONL, `{"id":"1","a,b":"plain","say \"hi\"":null,"tab\there":""}` + "\n" +
			`{"id":"2","a,b":"comma,here","say \"hi\"":"quote\"here","tab\there":"CR\rLF\nTAB\t"}` + "\n" +
			`{"id":"3","a,b":"\\.","say \"hi\"":".","tab\there":"back\\slash"}` + "\n" +
			`{"id":"4","a,b":"ünï 🐘","say \"hi\"":"AA","tab\there":"\\N"}` + "\n"},
	}
	for _, tc := range tests {
		for piece := range 12 {
			got, err := convert(t, tc.f, cols, input, piece)
			if err != nil {
				t.Fatalf("%s in pieces of %d: error = %v", tc.f, piece, err)
			}
			if got != tc.want {
				t.Fatalf("%s in pieces of %d:\n got %q\nwant %q", tc.f, piece, got, tc.want)
			}
		}
	}
}

// TestSingleColumn covers the rules that depend on a table having one column.
func TestSingleColumn(t *testing.T) {
	input := "\\\\.\n\n\\N\nx\n\\\\.x\n"
	got, err := convert(t, CSV, []string{`\.`}, input, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\"\\.\"\n\"\\.\"\n\"\"\n\nx\n\\.x\n"; got != want {
		t.Errorf("CSV = %q, want %q", got, want)
	}
	got, err = convert(t, CSV, []string{`\.`, "b"}, "\\\\.\t\\\\.\n", 0)
	if want := "\\.,b\n\\.,\\.\n"; err != nil || got != want {
		t.Errorf("CSV of two columns = %q, %v; want %q", got, err, want)
	}
}

func TestNoColumns(t *testing.T) {
	for f, want := range map[Format]string{CSV: "\n\n\n", JSONL: "{}\n{}\n", Text: "\n\n"} {
		got, err := convert(t, f, nil, "\n\n", 1)
		if err != nil || got != want {
			t.Errorf("%s of a table without columns = %q, %v; want %q", f, got, err, want)
		}
	}
	if _, err := convert(t, CSV, nil, "x\n", 0); err == nil {
		t.Error("a field in a table without columns converted")
	}
}

// TestEndOfData: the line \. ends the data, as in COPY FROM; what follows is ignored.
func TestEndOfData(t *testing.T) {
	for piece := range 6 {
		got, err := convert(t, CSV, []string{"a", "b"}, "1\t2\n\\.\n\n\nanything\n", piece)
		if err != nil || got != "a,b\n1,2\n" {
			t.Errorf("in pieces of %d: %q, %v; want the rows before \\.", piece, got, err)
		}
	}
}

func TestWriterErrors(t *testing.T) {
	if _, err := convert(t, CSV, []string{"a", "b"}, "1\t2\n1\n", 0); err == nil || !strings.Contains(err.Error(), "row 2 has 1 fields") {
		t.Errorf("short row: error = %v", err)
	}
	if _, err := convert(t, JSONL, []string{"a"}, "1\t2\n", 0); err == nil {
		t.Error("long row converted")
	}
	got, err := convert(t, CSV, []string{"a"}, "1\nlast", 3)
	if err != nil || got != "a\n1\nlast\n" {
		t.Errorf("last row without a newline = %q, %v", got, err)
	}
	if _, err := NewWriter(nil, "xml", nil); err == nil {
		t.Error("NewWriter(xml) succeeded")
	}
	errDisk := errors.New("disk full")
	for _, f := range Formats {
		w, _ := NewWriter(failingWriter{errDisk}, f, []string{"a"})
		_, err := w.Write(bytes.Repeat([]byte("x\n"), outBuf))
		if err == nil {
			err = w.Close()
		}
		if !errors.Is(err, errDisk) {
			t.Errorf("%s: error = %v, want %v", f, err, errDisk)
		}
		if _, err := w.Write([]byte("y\n")); err == nil {
			t.Errorf("%s: Write after an error succeeded", f)
		}
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"a\"b\\c", `"a\"b\\c"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"\xff ok \xc3", `"\ufffd ok \ufffd"`},
		{"\u2028\u2029 \ufffd 🐘", `"\u2028\u2029 ` + "\ufffd 🐘" + `"`},
	}
	for _, tc := range tests {
		if got := string(appendJSONString(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if got, err := ParseFormat(f.String()); got != f || err != nil {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("CSV"); err == nil {
		t.Error("ParseFormat(CSV) succeeded")
	}
}
