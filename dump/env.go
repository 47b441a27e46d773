package dump

import "strings"

// childEnvNames are the variables a client program inherits from pgsnap: what the C library,
// OpenSSL and the tools need, and the PG* variables libpq (12 to 17) reads, but PGPASSWORD
// and PGPASSFILE, which pgsnap sets itself (see clientConn and newPassfile).
var childEnvNames = setOf(
	// Programs, users, locale, time, temporary files.
	"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
	// Client programs installed outside the system's library path (SNAPSHOT_PG_BIN_DIR).
	"LD_LIBRARY_PATH",
	// OpenSSL's trust store, as with sslrootcert=system.
	"SSL_CERT_FILE", "SSL_CERT_DIR", "OPENSSL_CONF",
	// libpq's connection defaults.
	"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGSERVICEFILE",
	"PGSYSCONFDIR", "PGOPTIONS", "PGAPPNAME", "PGCLIENTENCODING", "PGCONNECT_TIMEOUT",
	"PGTARGETSESSIONATTRS", "PGLOADBALANCEHOSTS", "PGCHANNELBINDING", "PGREQUIREAUTH",
	"PGREQUIREPEER", "PGSSLMODE", "PGSSLNEGOTIATION", "PGSSLCOMPRESSION", "PGSSLCERT",
	"PGSSLKEY", "PGSSLCERTMODE", "PGSSLROOTCERT", "PGSSLCRL", "PGSSLCRLDIR", "PGSSLSNI",
	"PGSSLMINPROTOCOLVERSION", "PGSSLMAXPROTOCOLVERSION", "PGGSSENCMODE", "PGKRBSRVNAME",
	"PGGSSLIB", "PGGSSDELEGATION",
	// Session defaults libpq sends, and where its messages' translations are.
	"PGDATESTYLE", "PGTZ", "PGGEQO", "PGLOCALEDIR",
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// childEnvPrefixes are the families of variables a client program inherits: the locale
// categories, and Kerberos for GSSAPI authentication (KRB5CCNAME, KRB5_CONFIG,
// KRB5_CLIENT_KTNAME name files; they hold no secret themselves).
var childEnvPrefixes = []string{"LC_", "KRB5"}

// childEnv returns the environment of a client program: the variables of environ on the
// allow-list (childEnvNames, childEnvPrefixes), in their order, followed by set. Nothing else
// of pgsnap's environment reaches the program: not DATABASE_URL, the SNAPSHOT_*, PGSNAP_* and
// AWS_* settings, PGPASSWORD or PGPASSFILE. Every program the package starts gets its
// environment from here. The result is never nil, so exec.Cmd does not fall back to
// inheriting everything.
func childEnv(environ, set []string) []string {
	out := make([]string, 0, 16+len(set))
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if ok && allowedInChild(name) {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

func allowedInChild(name string) bool {
	if childEnvNames[name] {
		return true
	}
	for _, p := range childEnvPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
