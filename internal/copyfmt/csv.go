package copyfmt

import "bytes"

// csvSpecial marks the bytes that make CopyAttributeOutCSV quote a value: the delimiter, the
// quote, and the line ends.
var csvSpecial = [256]bool{',': true, '"': true, '\n': true, '\r': true}

// appendCSV appends one value as COPY ... TO STDOUT WITH (FORMAT csv) writes it
// (CopyAttributeOutCSV in copyto.c, default options): quoted when it holds a comma, a quote, a
// CR or an LF, when it is empty (the CSV NULL is an empty unquoted field, so an empty string is
// quoted), or when it is "\." and the only column (it would read as the end of data); a quote
// inside quotes is doubled. single is true when the table has one column.
func appendCSV(dst, v []byte, single bool) []byte {
	quote := len(v) == 0 || single && string(v) == endOfData
	if !quote {
		for _, c := range v {
			if csvSpecial[c] {
				quote = true
				break
			}
		}
	}
	if !quote {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			break
		}
		dst = append(dst, v[:i+1]...)
		dst = append(dst, '"')
		v = v[i+1:]
	}
	dst = append(dst, v...)
	return append(dst, '"')
}

// appendCSVHeader appends the header line COPY ... WITH (FORMAT csv, HEADER true) writes: the
// column names, each written as a value.
func appendCSVHeader(dst []byte, columns []string) []byte {
	for i, name := range columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCSV(dst, []byte(name), len(columns) == 1)
	}
	return append(dst, '\n')
}

// csvRow appends one row: NULL as an empty unquoted field.
func csvRow(dst []byte, values [][]byte, nulls []bool) []byte {
	single := len(values) == 1
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		if !nulls[i] {
			dst = appendCSV(dst, v, single)
		}
	}
	return append(dst, '\n')
}
