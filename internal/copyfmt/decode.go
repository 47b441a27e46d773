package copyfmt

import "bytes"

// nullField is how COPY's text format writes NULL.
const nullField = `\N`

// endOfData is the line that ends COPY text data (pg_dump writes it after a table's rows; COPY
// TO never writes it as a value, which would be escaped as "\\.").
const endOfData = `\.`

// lineEnd returns the index in b of the newline that ends the row begun by prefix (the start
// of the row that earlier writes brought) and b, or -1. A newline after an odd run of
// backslashes is escaped: it belongs to a value, as CopyReadLineText reads it (COPY TO never
// writes one, but old clients did).
func lineEnd(prefix, b []byte) int {
	from := 0
	for {
		i := bytes.IndexByte(b[from:], '\n')
		if i < 0 {
			return -1
		}
		i += from
		if !escapedEnd(prefix, b[:i]) {
			return i
		}
		from = i + 1
	}
}

// escapedEnd reports whether prefix followed by b ends with an odd run of backslashes.
func escapedEnd(prefix, b []byte) bool {
	n := trailingBackslashes(b)
	if n == len(b) {
		n += trailingBackslashes(prefix)
	}
	return n%2 == 1
}

func trailingBackslashes(b []byte) int {
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	return n
}

// splitRow splits one line of COPY text into its fields, raw (still escaped), appending them
// to fields, and reports whether the line has any backslash (any escape). A tab ends a field
// unless a backslash escapes it.
func splitRow(fields [][]byte, line []byte) ([][]byte, bool) {
	if bytes.IndexByte(line, '\\') < 0 {
		for {
			i := bytes.IndexByte(line, '\t')
			if i < 0 {
				return append(fields, line), false
			}
			fields = append(fields, line[:i])
			line = line[i+1:]
		}
	}
	start := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++ // the escaped byte, a tab included, is part of the field
		case '\t':
			fields = append(fields, line[start:i])
			start = i + 1
		}
	}
	return append(fields, line[start:]), true
}

// decodeField appends the value of a raw field to dst, as CopyReadAttributesText decodes it:
// \b \f \n \r \t \v stand for control characters, \ooo (one to three octal digits) and \xHH
// (one or two hex digits) for a byte, and a backslash before any other byte for that byte. A
// backslash that ends the field is dropped. It does not check for NULL (\N): see isNull.
func decodeField(dst, raw []byte) []byte {
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:i]...)
		raw = raw[i+1:]
		if len(raw) == 0 {
			return dst
		}
		c := raw[0]
		raw = raw[1:]
		switch c {
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := c - '0'
			for k := 0; k < 2 && len(raw) > 0 && raw[0] >= '0' && raw[0] <= '7'; k++ {
				v = v<<3 + (raw[0] - '0') // the high bits of \777 fall off, as "& 0377" does
				raw = raw[1:]
			}
			c = v
		case 'x':
			if len(raw) > 0 && isHex(raw[0]) {
				v := unhex(raw[0])
				raw = raw[1:]
				if len(raw) > 0 && isHex(raw[0]) {
					v = v<<4 + unhex(raw[0])
					raw = raw[1:]
				}
				c = v
			}
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'v':
			c = '\v'
		}
		dst = append(dst, c)
	}
}

// isNull reports whether a raw field is NULL.
func isNull(raw []byte) bool {
	return len(raw) == 2 && raw[0] == '\\' && raw[1] == 'N'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
