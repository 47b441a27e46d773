package conninfo

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// libpqOnly are libpq client keywords that pgx does not know. pgx would send them to the
// server as run-time parameters, which the server rejects, so PgxConfig leaves them out.
var libpqOnly = map[string]bool{
	"hostaddr": true, "fallback_application_name": true, "load_balance_hosts": true,
	"keepalives": true, "keepalives_idle": true, "keepalives_interval": true,
	"keepalives_count": true, "tcp_user_timeout": true, "requirepeer": true,
	"gssencmode": true, "gsslib": true, "gssdelegation": true,
	"sslcrl": true, "sslcrldir": true, "sslcompression": true,
	"ssl_min_protocol_version": true, "ssl_max_protocol_version": true,
	"scram_client_key": true, "scram_server_key": true,
}

// PgxConfig returns a pgx configuration for the connection, password included. As with
// libpq, unset settings come from the PG* environment variables and, when there is no
// password, from the password file. hostaddr stands in for a missing host and
// fallback_application_name for a missing application_name; other libpq-only keywords are
// dropped.
func (i Info) PgxConfig() (*pgx.ConnConfig, error) {
	var b strings.Builder
	for _, p := range i.pairs {
		if libpqOnly[p.key] {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		writeKeywordValue(&b, p.key, p.value)
	}
	if addr := i.Get("hostaddr"); addr != "" && i.Get("host") == "" {
		b.WriteByte(' ')
		writeKeywordValue(&b, "host", addr)
	}
	if app := i.Get("fallback_application_name"); app != "" && i.Get("application_name") == "" {
		b.WriteByte(' ')
		writeKeywordValue(&b, "application_name", app)
	}
	// The password stays out of the string pgx parses, so that no pgx error can quote it.
	cfg, err := pgx.ParseConfig(strings.TrimSpace(b.String()))
	if err != nil {
		return nil, fmt.Errorf("build pgx config for %s: %w", i.Redacted(), err)
	}
	if i.HasPassword() {
		cfg.Password = i.Password()
	}
	return cfg, nil
}
