package restore

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/pgadmin"
)

// properties are the source database's own, as the archive records them in the entries
// pg_restore applies only with --create: encoding, locale provider, collation, ctype, ICU
// locale, owner (DATABASE); settings, connection limit (DATABASE PROPERTIES); comment, security
// labels and grants. A restore recreates them on its scratch database: creation options when it
// is created, the rest once the restore is proven (a connection limit or a read-only default
// would stand in the restore's way).
type properties struct {
	source  string // the source database's name, as the entries name it
	create  string // CREATE DATABASE options: TEMPLATE = template0 ENCODING = ... LOCALE = ...
	owner   string
	entries []archive.Entry // DATABASE PROPERTIES, COMMENT, SECURITY LABEL, ACL
}

// properties reads the archive's table of contents: from the decoded file, or from the start
// of the stored object (only its head is read).
func (r *Restorer) properties(ctx context.Context, snap catalog.Snapshot, file string) (properties, error) {
	if snap.Format != catalog.FormatCustom {
		return properties{}, fmt.Errorf("snapshot %s holds %s, not a database: restore a database snapshot, with --with-globals to apply it first", snap.Name, snap.Format)
	}
	var in io.Reader
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return properties{}, err
		}
		defer f.Close()
		in = f
	} else {
		a, err := r.cat.Open(ctx, snap, catalog.Archive)
		if err != nil {
			return properties{}, err
		}
		defer a.Close()
		in = a
	}
	_, entries, err := archive.ReadTOC(bufio.NewReaderSize(in, 64<<10))
	if err != nil {
		if ctx.Err() != nil {
			return properties{}, ctx.Err()
		}
		return properties{}, &catalog.CorruptError{Name: snap.Name, Reason: fmt.Sprintf("table of contents: %v", err)}
	}
	var p properties
	for _, e := range entries {
		switch {
		case e.Desc == "DATABASE":
			p.source, p.owner = e.Tag, e.Owner
			_, opts, ok := strings.Cut(e.Defn, " WITH ")
			if ok {
				p.create = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(opts), ";"))
			}
		case e.DatabaseLevel():
			p.entries = append(p.entries, e)
		}
	}
	if p.create == "" {
		r.log.Warn("the archive records no database properties; the restored database gets the server's defaults", "snapshot", snap.Name)
		p.create = "TEMPLATE = template0"
	}
	return p, nil
}

// createOptions are the CREATE DATABASE options of the scratch database.
func (p properties) createOptions(noOwner bool) string {
	opts := p.create
	if !noOwner && p.owner != "" {
		opts += " OWNER = " + pgadmin.QuoteIdent(p.owner)
	}
	return "WITH " + opts
}

// explain says a failed CREATE DATABASE comes from a property the server cannot give.
func (p properties) explain(err error) error {
	return fmt.Errorf("the restore target server cannot create a database with the source's properties (%s), nothing was changed: %w", p.create, err)
}

// apply gives database db the source's settings, connection limit, comment, security labels
// and (unless noOwner) grants and role settings, naming db where the archive names the source.
func (p properties) apply(ctx context.Context, conn *pgx.Conn, db string, noOwner bool) error {
	for _, e := range p.entries {
		if noOwner && e.Desc == "ACL" {
			continue
		}
		for _, stmt := range renameDatabase(e.Defn, p.source, db) {
			if noOwner && hasPrefixFold(stmt, "ALTER ROLE ") {
				continue
			}
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("recreate the source database's %s (%s): %w", strings.ToLower(e.Desc), firstLine(stmt), err)
			}
		}
	}
	return nil
}

// renameDatabase splits sql into statements and names database to wherever the statements name
// the database from (after the keyword DATABASE). String literals, quoted identifiers and
// dollar quotes are passed through untouched.
func renameDatabase(sql, from, to string) []string {
	var stmts []string
	var b strings.Builder
	prevWord := ""
	for i := 0; i < len(sql); {
		c := sql[i]
		j := i + 1
		switch {
		case c == '\'' || (c == 'E' || c == 'e') && i+1 < len(sql) && sql[i+1] == '\'':
			j = skipString(sql, i)
			prevWord = ""
		case c == '$':
			j = skipDollar(sql, i)
			prevWord = ""
		case c == '"':
			j = skipQuoted(sql, i)
			name := strings.ReplaceAll(sql[i+1:j-1], `""`, `"`)
			if prevWord == "DATABASE" && name == from {
				b.WriteString(pgadmin.QuoteIdent(to))
				i, prevWord = j, ""
				continue
			}
			prevWord = ""
		case isWordStart(c):
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			word := sql[i:j]
			if prevWord == "DATABASE" && word == from {
				b.WriteString(pgadmin.QuoteIdent(to))
				i, prevWord = j, ""
				continue
			}
			prevWord = strings.ToUpper(word)
		case c == ';':
			b.WriteByte(';')
			if s := strings.TrimSpace(b.String()); s != ";" {
				stmts = append(stmts, s)
			}
			b.Reset()
			i, prevWord = j, ""
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			prevWord = ""
		}
		b.WriteString(sql[i:j])
		i = j
	}
	if s := strings.TrimSpace(b.String()); s != "" {
		stmts = append(stmts, s)
	}
	return stmts
}

func skipString(s string, i int) int {
	escapes := s[i] != '\''
	if escapes {
		i++
	}
	for j := i + 1; j < len(s); j++ {
		switch {
		case escapes && s[j] == '\\':
			j++
		case s[j] == '\'' && j+1 < len(s) && s[j+1] == '\'':
			j++
		case s[j] == '\'':
			return j + 1
		}
	}
	return len(s)
}

func skipQuoted(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		if s[j] == '"' {
			if j+1 < len(s) && s[j+1] == '"' {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

func skipDollar(s string, i int) int {
	end := strings.IndexByte(s[i+1:], '$')
	if end < 0 {
		return i + 1
	}
	tag := s[i : i+end+2]
	for _, r := range tag[1 : len(tag)-1] {
		if !isWordByte(byte(r)) {
			return i + 1 // a positional parameter or an operator, not a dollar quote
		}
	}
	close := strings.Index(s[i+len(tag):], tag)
	if close < 0 {
		return len(s)
	}
	return i + len(tag) + close + len(tag)
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isWordByte(c byte) bool { return isWordStart(c) || c >= '0' && c <= '9' || c == '$' }

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
