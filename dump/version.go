// Package dump runs the PostgreSQL client programs pg_dump and pg_restore safely: the binary
// matching the server's major version, the password handed over through a private passfile
// (never argv), the child and its process group killed when the context ends, and failures
// reported with the tail of the program's standard error.
package dump

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// Version is a PostgreSQL version. For releases before 10, Major and Minor are the first two
// numbers (9.6.24 is 9 and 6).
type Version struct {
	Major, Minor int
	Raw          string // the text the version was read from, such as "15.18 (Debian 15.18-0+deb12u1)"
}

// String returns the version number as PostgreSQL writes it ("15.18", "17beta1"), or
// "Major.Minor" when Raw does not hold it.
func (v Version) String() string {
	if tok := versionToken(v.Raw); tok != "" {
		if p, err := parseToken(tok); err == nil && p.Major == v.Major && p.Minor == v.Minor {
			return tok
		}
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// ParseVersion reads a version from the output of `pg_dump --version`
// ("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"), from server_version ("15.18",
// "17beta1", "16devel"), or from version() ("PostgreSQL 15.18 on x86_64-pc-linux-gnu, …"):
// the first word that starts with a digit.
func ParseVersion(s string) (Version, error) {
	raw := strings.TrimSpace(s)
	if line, _, ok := strings.Cut(raw, "\n"); ok {
		raw = strings.TrimSpace(line)
	}
	tok := versionToken(raw)
	if tok == "" {
		return Version{}, fmt.Errorf("parse version %q: no version number", truncate(raw, 100))
	}
	v, err := parseToken(tok)
	if err != nil {
		return Version{}, fmt.Errorf("parse version %q: %w", truncate(raw, 100), err)
	}
	v.Raw = raw
	return v, nil
}

// versionToken returns the first word of s that starts with a digit, trailing punctuation
// removed.
func versionToken(s string) string {
	for _, w := range strings.Fields(s) {
		if w[0] >= '0' && w[0] <= '9' {
			return strings.TrimRight(w, ",;:)")
		}
	}
	return ""
}

// parseToken parses "15", "15.18", "9.6.24", "17beta1", "16rc2" or "18devel".
func parseToken(tok string) (Version, error) {
	numeric := tok
	if end := strings.IndexFunc(tok, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }); end >= 0 {
		numeric = tok[:end]
		if !validSuffix(tok[end:]) {
			return Version{}, fmt.Errorf("unexpected %q after the version number", tok[end:])
		}
	}
	parts := strings.Split(numeric, ".")
	if len(parts) > 3 {
		return Version{}, errors.New("too many dotted parts")
	}
	var nums [2]int
	for k := 0; k < len(parts) && k < 2; k++ {
		n, err := strconv.Atoi(parts[k])
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("bad number %q", parts[k])
		}
		nums[k] = n
	}
	if len(parts) == 3 {
		if _, err := strconv.Atoi(parts[2]); err != nil {
			return Version{}, fmt.Errorf("bad number %q", parts[2])
		}
	}
	return Version{Major: nums[0], Minor: nums[1]}, nil
}

// validSuffix accepts the pre-release markers PostgreSQL uses: devel, alpha1, beta2, rc1.
func validSuffix(s string) bool {
	for _, p := range []string{"devel", "alpha", "beta", "rc"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return strings.TrimLeft(rest, "0123456789") == ""
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// serverConnectTimeout bounds the connection ServerVersion makes when the connection string
// sets no connect_timeout.
const serverConnectTimeout = "10"

// ServerVersion connects to the server (as application_name pgsnap, with a 10 s connect
// timeout unless conn sets one) and reads server_version_num and server_version.
func ServerVersion(ctx context.Context, conn conninfo.Info) (Version, error) {
	c := conn.With("application_name", "pgsnap")
	if c.Get("connect_timeout") == "" {
		c = c.With("connect_timeout", serverConnectTimeout)
	}
	cfg, err := c.PgxConfig()
	if err != nil {
		return Version{}, err
	}
	pc, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return Version{}, fmt.Errorf("read server version: %w", err)
	}
	defer func() {
		// Close says goodbye to the server; it must run even when ctx has ended.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = pc.Close(closeCtx)
	}()
	var num, text string
	if err := pc.QueryRow(ctx, "SHOW server_version_num").Scan(&num); err != nil {
		return Version{}, fmt.Errorf("read server version: %w", err)
	}
	if err := pc.QueryRow(ctx, "SHOW server_version").Scan(&text); err != nil {
		return Version{}, fmt.Errorf("read server version: %w", err)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return Version{}, fmt.Errorf("read server version: server_version_num %q is not a number", num)
	}
	v := Version{Major: n / 10000, Minor: n % 10000, Raw: text}
	if n < 100000 {
		// Before 10, server_version_num is MMmmpp: 90624 is 9.6.24.
		v.Minor = n / 100 % 100
	}
	return v, nil
}
