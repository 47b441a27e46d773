package settings

import (
	"encoding/json"
	"log/slog"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// ConnString is a PostgreSQL connection string (a postgres:// URL or key=value pairs). Every printed
// form of it (String, GoString, LogValue, MarshalJSON, and so %v, %+v, %#v and %s) masks the password;
// convert it to string explicitly to get the raw value.
type ConnString string

// String returns the connection string with its password masked.
func (c ConnString) String() string {
	if c == "" {
		return ""
	}
	return conninfo.Redact(string(c))
}

// GoString returns the masked connection string, quoted.
func (c ConnString) GoString() string { return "pgsnap.ConnString(" + quote(c.String()) + ")" }

// LogValue returns the masked connection string.
func (c ConnString) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes the masked connection string.
func (c ConnString) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// Parse reads the connection string.
func (c ConnString) Parse() (conninfo.Info, error) { return conninfo.Parse(string(c)) }

// HasPassword reports whether the connection string carries a password (one that parses).
func (c ConnString) HasPassword() bool {
	info, err := c.Parse()
	return err == nil && info.HasPassword()
}

// Check parses the connection string and refuses an sslpassword, which no client program
// could be given privately (conninfo.ErrSSLPassword); the error never shows the password.
// Every connection setting is checked this way when it is loaded.
func (c ConnString) Check() error {
	info, err := c.Parse()
	if err != nil {
		return err
	}
	return conninfo.RefuseSSLPassword(info)
}
