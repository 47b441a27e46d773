package writer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/settings"
)

const testPassword = "hunter2-Secret-pw"

func testInfo(t *testing.T) conninfo.Info {
	t.Helper()
	info, err := conninfo.Parse("postgres://app:" + testPassword + "@127.0.0.1:1/shop")
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// attemptCtx is the context of an attempt that has not timed out.
func attemptCtx(t *testing.T) context.Context {
	ctx, stop := WithTimeout(t.Context(), time.Hour, testInfo(t))
	t.Cleanup(stop)
	return ctx
}

func pgErr(code, msg string) error {
	return fmt.Errorf("connect for the target lock: %w", &pgconn.PgError{Severity: "FATAL", Code: code, Message: msg})
}

func exitErr(stderr string) error {
	return &dump.ExitError{Tool: "pg_dump", ExitCode: 1, Stderr: stderr}
}

// Each failure is sorted by its SQLSTATE, error type or pg_dump's words, and Stage's message
// starts with the cause, naming user, server and database but never the password.
func TestStageNamesTheCauseFirst(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		cause  Cause
		prefix string // the message starts with it
	}{
		{"wrong password", pgErr("28P01", `password authentication failed for user "app"`), CauseAuth,
			"authentication failed for user app on 127.0.0.1:1 (DATABASE_URL): lock: "},
		{"unknown role", pgErr("28000", `role "app" does not exist`), CauseAuth,
			"authentication failed for user app on 127.0.0.1:1 (DATABASE_URL): role \"app\" does not exist: lock: "},
		{"pg_hba no entry", pgErr("28000", `no pg_hba.conf entry for host "10.0.0.1", user "app", database "shop", no encryption`), CauseHBA,
			"the server at 127.0.0.1:1 does not let user app connect to database shop: see its pg_hba.conf (DATABASE_URL): lock: "},
		{"missing database", pgErr("3D000", `database "shop" does not exist`), CauseNoDatabase,
			"database shop does not exist on 127.0.0.1:1 (DATABASE_URL): lock: "},
		{"no privilege", pgErr("42501", "permission denied for table secret"), CausePermission,
			"permission denied for table secret (user app on database shop): grant the privilege"},
		{"shutting down", pgErr("57P03", "the database system is shutting down"), CauseConnection,
			"the server at 127.0.0.1:1 (DATABASE_URL) ended or refused the session: the database system is shutting down: lock: "},
		{"admin shutdown", pgErr("57P01", "terminating connection due to administrator command"), CauseConnection,
			"the server at 127.0.0.1:1 (DATABASE_URL) ended or refused the session: terminating connection due to administrator command"},
		{"too many clients", pgErr("53300", "sorry, too many clients already"), CauseConnection, "the server at 127.0.0.1:1"},
		{"connection failure", pgErr("08006", "connection failure"), CauseConnection, "the server at 127.0.0.1:1"},
		{"refused", fmt.Errorf("connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{}}), CauseConnection,
			"cannot connect to the server at 127.0.0.1:1 (DATABASE_URL): host name  not found"},
		{"dial refused", fmt.Errorf("connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), CauseConnection,
			"cannot connect to the server at 127.0.0.1:1 (DATABASE_URL): connection refused (is the server running?): "},
		{"pg_dump wrong password", exitErr(`pg_dump: error: connection to server at "127.0.0.1", port 1 failed: FATAL:  password authentication failed for user "app"`),
			CauseAuth, "authentication failed for user app on 127.0.0.1:1 (DATABASE_URL): dump: pg_dump exited with status 1"},
		{"pg_dump pg_hba", exitErr(`pg_dump: error: connection to server at "127.0.0.1", port 1 failed: FATAL:  pg_hba.conf rejects connection for host "127.0.0.1", user "app", database "shop", no encryption`),
			CauseHBA, "the server at 127.0.0.1:1 does not let user app connect to database shop"},
		{"pg_dump missing database", exitErr(`pg_dump: error: connection to server at "127.0.0.1", port 1 failed: FATAL:  database "shop" does not exist`),
			CauseNoDatabase, "database shop does not exist on 127.0.0.1:1"},
		{"pg_dump permission", exitErr("pg_dump: error: query failed: ERROR:  permission denied for table secret\npg_dump: detail: Query was: LOCK TABLE public.secret IN ACCESS SHARE MODE"),
			CausePermission, "permission denied for table secret (user app on database shop)"},
		{"pg_dump permission on schema", exitErr("pg_dump: error: query failed: ERROR:  permission denied for schema hidden"),
			CausePermission, "permission denied for schema hidden (user app"},
		{"pg_dump lock timeout", exitErr("pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\npg_dump: detail: Query was: LOCK TABLE public.accounts IN ACCESS SHARE MODE"),
			CauseLockWait, "a table lock was not granted within SNAPSHOT_LOCK_WAIT_TIMEOUT: dump: "},
		{"pg_dump server refused", exitErr(`pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused` + "\n\tIs the server running on that host and accepting TCP/IP connections?"),
			CauseConnection, "cannot connect to the server at 127.0.0.1:1 (DATABASE_URL): Connection refused: dump: "},
		{"pg_dump session terminated", exitErr("pg_dump: error: Dumping the contents of table \"big\" failed: PQgetCopyData() failed.\npg_dump: detail: Error message from server: FATAL:  terminating connection due to administrator command\npg_dump: detail: Command was: COPY public.big (id) TO stdout;"),
			CauseConnection, "lost the connection to the server at 127.0.0.1:1 during the dump: terminating connection due to administrator command: dump: "},
		{"pg_dump server gone", exitErr("pg_dump: error: Dumping the contents of table \"big\" failed: PQgetCopyData() failed.\npg_dump: detail: Error message from server: server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally"),
			CauseConnection, "lost the connection to the server at 127.0.0.1:1 during the dump: server closed the connection unexpectedly: dump: "},
		{"pg_dump killed", exitErr(""), CauseDump, "dump: pg_dump exited with status 1"},
		{"unknown", errors.New("something odd"), CauseOther, "dump: something odd"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stage := "lock"
			if errors.As(tc.err, new(*dump.ExitError)) || tc.cause == CauseOther {
				stage = "dump"
			}
			err := Stage(attemptCtx(t), stage, tc.err)
			if got := Classify(err); got != tc.cause {
				t.Errorf("Classify = %q, want %q", got, tc.cause)
			}
			if !strings.HasPrefix(err.Error(), tc.prefix) {
				t.Errorf("message\n%q\ndoes not start with\n%q", err, tc.prefix)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("Stage's error does not wrap %v", tc.err)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("message holds the password: %q", err)
			}
		})
	}
}

// Errors that are not sorted by Stage are sorted by their types.
func TestClassifyByType(t *testing.T) {
	cases := []struct {
		err   error
		cause Cause
	}{
		{&TimeoutError{Limit: time.Second}, CauseTimeout},
		{fmt.Errorf("x: %w", &settings.ConfigError{Setting: "SNAPSHOT_PG_BIN_DIR"}), CauseConfig},
		{&dump.VersionError{Tool: "pg_dump"}, CauseConfig},
		{fmt.Errorf("SNAPSHOT_DIR: commit gate: %w", &catalog.CorruptError{Name: "x", Reason: "sha256"}), CauseCorruption},
		{fmt.Errorf("SNAPSHOT_DIR: %w", &fs.PathError{Op: "write", Path: "/s/x", Err: syscall.ENOSPC}), CauseStorage},
		{&CauseError{Cause: CauseLockWait, Err: errors.New("x")}, CauseLockWait},
		{fmt.Errorf("wrapped: %w", &CauseError{Cause: CauseStorage, Err: syscall.EACCES}), CauseStorage},
		{&dump.ExitError{Tool: "pg_dump", ExitCode: -1, Signal: "killed"}, CauseDump},
		{errors.New("odd"), CauseOther},
		{nil, ""},
	}
	for _, tc := range cases {
		if got := Classify(tc.err); got != tc.cause {
			t.Errorf("Classify(%v) = %q, want %q", tc.err, got, tc.cause)
		}
	}
}

// A stage that SNAPSHOT_TIMEOUT ended says so first, once, and still matches the timeout and
// the stage's own error.
func TestStageTimeoutFirst(t *testing.T) {
	ctx, stop := WithTimeout(t.Context(), 10*time.Millisecond, testInfo(t))
	defer stop()
	<-ctx.Done()
	inner := &pgconn.PgError{Code: "57014", Message: "canceling statement"}
	err := Stage(ctx, "dump", inner)
	if Classify(err) != CauseTimeout || !strings.HasPrefix(err.Error(), "timed out after 10ms (SNAPSHOT_TIMEOUT): dump: ") {
		t.Errorf("Stage after the timeout = %q (%s), want it first", err, Classify(err))
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, inner) || !errors.As(err, new(*TimeoutError)) {
		t.Errorf("Stage after the timeout = %v: does not match the timeout and the stage's error", err)
	}
	// pg_dump's own error already wraps the timeout: it is said once.
	stopped := fmt.Errorf("pg_dump stopped: %w", context.Cause(ctx))
	err = Stage(ctx, "dump", stopped)
	if n := strings.Count(err.Error(), "SNAPSHOT_TIMEOUT"); n != 1 || !strings.HasPrefix(err.Error(), "timed out after 10ms") {
		t.Errorf("Stage = %q, want the timeout first and once", err)
	}
	// A cancel is not a failure of its own: the message stays "stage: error".
	cctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = Stage(cctx, "dump", context.Canceled)
	if err.Error() != "dump: context canceled" || !errors.Is(err, context.Canceled) {
		t.Errorf("Stage after a cancel = %q", err)
	}
}

// The lock-wait hint keeps its summary first through Stage.
func TestLockWaitHintFirst(t *testing.T) {
	w := &Writer{cfg: settings.Config{LockWaitTimeout: 2 * time.Second}}
	err := Stage(attemptCtx(t), "dump", w.lockWaitHint(exitErr("pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\npg_dump: detail: Query was: LOCK TABLE public.accounts IN ACCESS SHARE MODE")))
	want := "could not lock table public.accounts within SNAPSHOT_LOCK_WAIT_TIMEOUT (2s): another session holds a conflicting lock: dump: pg_dump exited"
	if !strings.HasPrefix(err.Error(), want) || Classify(err) != CauseLockWait {
		t.Errorf("lock wait = %q (%s), want it to start %q", err, Classify(err), want)
	}
}
