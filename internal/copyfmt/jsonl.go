package copyfmt

import (
	"unicode/utf8"
)

// jsonSafe marks the bytes a JSON string holds as they are: printable ASCII but the quote and
// the backslash.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Control characters, the quote and the backslash
// are escaped, and so are U+2028 and U+2029 (as encoding/json does); bytes that are not UTF-8
// become U+FFFD, since JSON text must be UTF-8.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonKeys returns each column's `"name":`, encoded once.
func jsonKeys(columns []string) [][]byte {
	keys := make([][]byte, len(columns))
	for i, name := range columns {
		keys[i] = append(appendJSONString(nil, []byte(name)), ':')
	}
	return keys
}

// jsonRow appends one row as a JSON object: the columns in order, NULL as null.
func jsonRow(dst []byte, keys, values [][]byte, nulls []bool) []byte {
	dst = append(dst, '{')
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, keys[i]...)
		if nulls[i] {
			dst = append(dst, "null"...)
		} else {
			dst = appendJSONString(dst, v)
		}
	}
	return append(dst, '}', '\n')
}
