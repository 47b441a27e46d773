package writer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/settings"
)

// Cause is why a snapshot attempt failed, in one word: the reason label of
// pgsnap_failures_total and of failure webhooks. Each asks the operator for a different fix.
type Cause string

// The causes. Their values are a public interface (metric labels, webhook payloads, README).
const (
	CauseAuth       Cause = "auth"        // the server refused the credentials (SQLSTATE 28P01, 28000)
	CauseHBA        Cause = "pg_hba"      // the server's pg_hba.conf rejects the connection (28000)
	CauseNoDatabase Cause = "no_database" // the database does not exist (3D000)
	CauseConnection Cause = "connection"  // server down, refused, unreachable, shutting down or ended the session
	CausePermission Cause = "permission"  // the role lacks a privilege pg_dump needs (42501)
	CauseLockWait   Cause = "lock_wait"   // a table lock not granted within SNAPSHOT_LOCK_WAIT_TIMEOUT
	CauseTimeout    Cause = "timeout"     // SNAPSHOT_TIMEOUT ended the attempt
	CauseStorage    Cause = "storage"     // no destination could store the snapshot
	CauseCorruption Cause = "corruption"  // the stored snapshot failed its commit gate
	CauseConfig     Cause = "config"      // a setting, or the client programs it selects, is wrong
	CauseDump       Cause = "dump"        // pg_dump failed otherwise (killed, empty or foreign output)
	CauseOther      Cause = "other"
)

// Causes lists every Cause, for documentation and tests.
var Causes = []Cause{CauseAuth, CauseHBA, CauseNoDatabase, CauseConnection, CausePermission, CauseLockWait,
	CauseTimeout, CauseStorage, CauseCorruption, CauseConfig, CauseDump, CauseOther}

// CauseError is a failed attempt sorted by its cause. Its message names the cause first (the
// Summary, such as "authentication failed for user app on db:5432 (DATABASE_URL)"), then what
// failed. It never holds a password: summaries are built from user, host, port and database
// names only.
type CauseError struct {
	Cause   Cause
	Summary string // "" when Err's own message already starts with the cause
	Err     error

	text string // Err's message, with a repetition of Summary left out; "" means Err.Error()
	also error  // another error the chain matches (the *TimeoutError a stage did not wrap)
}

func (e *CauseError) Error() string {
	text := e.text
	if text == "" {
		text = e.Err.Error()
	}
	if e.Summary == "" {
		return text
	}
	return e.Summary + ": " + text
}

// Unwrap lets errors.Is and errors.As see the wrapped error (and the timeout, for a stage that
// SNAPSHOT_TIMEOUT ended).
func (e *CauseError) Unwrap() []error {
	if e.also != nil {
		return []error{e.Err, e.also}
	}
	return []error{e.Err}
}

// Classify sorts a failed attempt's error by its cause: the Cause of a *CauseError in its
// chain, else by error types and PostgreSQL SQLSTATEs, else by pg_dump's standard error.
func Classify(err error) Cause {
	if err == nil {
		return ""
	}
	c, _ := classify(err, conninfo.Info{})
	return c
}

// infoKey carries the attempt's connection in the context WithTimeout returns, so that Stage can
// name the user, server and database a failure concerns.
type infoKey struct{}

// server is where an attempt connects, for messages: never the password.
type server struct{ user, host, port, db string }

func serverOf(err error, info conninfo.Info) server {
	if ce, ok := errors.AsType[*pgconn.ConnectError](err); ok && ce.Config != nil {
		return server{user: ce.Config.User, host: ce.Config.Host, port: strconv.Itoa(int(ce.Config.Port)), db: ce.Config.Database}
	}
	return server{user: info.User(), host: info.Get("host"), port: info.Get("port"), db: info.Database()}
}

func (s server) addr() string {
	port := s.port
	if port == "" {
		port = "5432"
	}
	switch {
	case s.host == "":
		return "the default host, port " + port
	case strings.HasPrefix(s.host, "/"):
		return s.host + "/.s.PGSQL." + port
	}
	return net.JoinHostPort(s.host, port)
}

func (s server) userName() string {
	if s.user == "" {
		return "(default user)"
	}
	return s.user
}

// classify returns err's cause and, when err's message does not start with it, a summary that
// names it.
func classify(err error, info conninfo.Info) (Cause, string) {
	if ce, ok := errors.AsType[*CauseError](err); ok {
		return ce.Cause, ""
	}
	switch {
	case errors.As(err, new(*TimeoutError)):
		return CauseTimeout, ""
	case errors.As(err, new(*settings.ConfigError)), errors.As(err, new(*dump.VersionError)):
		return CauseConfig, ""
	case errors.As(err, new(*catalog.CorruptError)):
		return CauseCorruption, ""
	}
	srv := serverOf(err, info)
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		if c, sum := fromSQLState(pe, srv); c != "" {
			return c, sum
		}
	}
	if ee, ok := errors.AsType[*dump.ExitError](err); ok {
		return fromStderr(ee, srv)
	}
	if why := netFailure(err); why != "" {
		return CauseConnection, fmt.Sprintf("cannot connect to the server at %s (DATABASE_URL): %s", srv.addr(), why)
	}
	if errors.As(err, new(*fs.PathError)) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) {
		return CauseStorage, ""
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		// After the storage check: a file read can end early too.
		return CauseConnection, fmt.Sprintf("lost the connection to the server at %s: the server closed it", srv.addr())
	}
	return CauseOther, ""
}

// fromSQLState sorts a server error by its SQLSTATE; "" when the code is none of those.
func fromSQLState(pe *pgconn.PgError, srv server) (Cause, string) {
	switch code := pe.Code; {
	case code == "28P01":
		return CauseAuth, fmt.Sprintf("authentication failed for user %s on %s (DATABASE_URL)", srv.userName(), srv.addr())
	case code == "28000" && strings.Contains(pe.Message, "pg_hba.conf"):
		// The file name is not translated: this holds whatever lc_messages says.
		return CauseHBA, fmt.Sprintf("the server at %s does not let user %s connect to database %s: see its pg_hba.conf (DATABASE_URL)",
			srv.addr(), srv.userName(), srv.db)
	case code == "28000":
		return CauseAuth, fmt.Sprintf("authentication failed for user %s on %s (DATABASE_URL): %s", srv.userName(), srv.addr(), pe.Message)
	case code == "3D000":
		return CauseNoDatabase, fmt.Sprintf("database %s does not exist on %s (DATABASE_URL)", srv.db, srv.addr())
	case code == "42501":
		return CausePermission, permissionSummary(pe.Message, srv)
	case code == "55P03":
		return CauseLockWait, "a lock was not granted in time"
	case strings.HasPrefix(code, "08"), code == "57P01", code == "57P02", code == "57P03", code == "53300":
		return CauseConnection, fmt.Sprintf("the server at %s (DATABASE_URL) ended or refused the session: %s", srv.addr(), pe.Message)
	}
	return "", ""
}

func permissionSummary(msg string, srv server) string {
	return fmt.Sprintf("%s (user %s on database %s): grant the privilege, or leave the object out (SNAPSHOT_PG_DUMP_EXCLUDE_TABLES, SNAPSHOT_PG_DUMP_EXCLUDE_SCHEMAS)",
		msg, srv.userName(), srv.db)
}

var (
	permissionDenied = regexp.MustCompile(`permission denied for [a-z ]*?[a-z]+ "?[^\s"]+"?`)
	missingDatabase  = regexp.MustCompile(`database "[^"]*" does not exist`)
)

// serverCauses are libpq's and the server's words for a lost or refused connection, most
// telling first: pg_dump prints them in English unless lc_messages says otherwise.
var serverCauses = []string{
	"terminating connection due to administrator command",
	"terminating connection due to immediate shutdown command",
	"terminating connection because of crash of another server process",
	"terminating connection due to unexpected postmaster exit",
	"the database system is shutting down",
	"the database system is starting up",
	"the database system is in recovery mode",
	"the database system is not yet accepting connections",
	"sorry, too many clients already",
	"server closed the connection unexpectedly",
	"Connection refused",
	"could not translate host name",
	"No route to host",
	"Network is unreachable",
	"timeout expired",
	"connection to server was lost",
	"no connection to the server",
	"SSL SYSCALL error",
	"Connection reset by peer",
}

// fromStderr sorts a failed pg_dump by what it printed. pg_dump does not print SQLSTATEs, so
// its standard error (libpq's and the server's messages) is all there is.
func fromStderr(ee *dump.ExitError, srv server) (Cause, string) {
	s := ee.Stderr
	switch {
	case strings.Contains(s, "password authentication failed"), strings.Contains(s, "no password supplied"),
		strings.Contains(s, "authentication failed for user"):
		return CauseAuth, fmt.Sprintf("authentication failed for user %s on %s (DATABASE_URL)", srv.userName(), srv.addr())
	case strings.Contains(s, "pg_hba.conf"):
		return CauseHBA, fmt.Sprintf("the server at %s does not let user %s connect to database %s: see its pg_hba.conf (DATABASE_URL)",
			srv.addr(), srv.userName(), srv.db)
	case missingDatabase.MatchString(s):
		return CauseNoDatabase, fmt.Sprintf("database %s does not exist on %s (DATABASE_URL)", srv.db, srv.addr())
	case permissionDenied.MatchString(s):
		return CausePermission, permissionSummary(permissionDenied.FindString(s), srv)
	case strings.Contains(s, "lock timeout"), strings.Contains(s, "statement timeout") && strings.Contains(s, "LOCK TABLE"):
		return CauseLockWait, "a table lock was not granted within SNAPSHOT_LOCK_WAIT_TIMEOUT"
	}
	for _, phrase := range serverCauses {
		if !strings.Contains(s, phrase) {
			continue
		}
		if strings.Contains(s, "connection to server at") && strings.Contains(s, "failed:") {
			return CauseConnection, fmt.Sprintf("cannot connect to the server at %s (DATABASE_URL): %s", srv.addr(), phrase)
		}
		return CauseConnection, fmt.Sprintf("lost the connection to the server at %s during the dump: %s", srv.addr(), phrase)
	}
	return CauseDump, ""
}

// netFailure says why a connection could not be made or was lost, or "" when err is not a
// network failure.
func netFailure(err error) string {
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is the server running?)"
	case errors.As(err, &dns):
		return "host name " + dns.Name + " not found"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &ne) && ne.Timeout():
		return "connection timed out"
	case errors.As(err, new(*net.OpError)), errors.As(err, new(*pgconn.ConnectError)):
		return "connection failed"
	}
	return ""
}

// tag sorts err under cause with summary, unless the attempt's context ended, which Stage
// explains.
func tag(ctx context.Context, stage string, cause Cause, summary string, err error) error {
	if ctx.Err() != nil {
		return Stage(ctx, stage, err)
	}
	if c, _ := classify(err, conninfo.Info{}); c == CauseConfig || c == CauseTimeout {
		return err // already names its setting first
	}
	return &CauseError{Cause: cause, Summary: summary, Err: err}
}
