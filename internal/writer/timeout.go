package writer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// TimeoutError reports that SNAPSHOT_TIMEOUT ended an attempt. It matches
// context.DeadlineExceeded with errors.Is.
type TimeoutError struct {
	Limit  time.Duration
	Detail string // what pg_dump was waiting for, when that could be found out
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s (SNAPSHOT_TIMEOUT)", e.Limit)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap makes errors.Is(err, context.DeadlineExceeded) hold.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// diagnoseTimeout bounds the look at the server when a timeout fires.
const diagnoseTimeout = 3 * time.Second

// WithTimeout returns a context that ends limit (SNAPSHOT_TIMEOUT) from now with a *TimeoutError
// as its cause. Before it ends, it asks the server what pg_dump is waiting for, while pg_dump's
// session still exists. stop releases everything and waits for that look to finish.
func WithTimeout(ctx context.Context, limit time.Duration, info conninfo.Info) (context.Context, func()) {
	dctx, cancel := context.WithCancelCause(ctx)
	dctx = context.WithValue(dctx, infoKey{}, info) // for Stage's messages
	done := make(chan struct{})
	timer := time.AfterFunc(limit, func() {
		defer close(done)
		te := &TimeoutError{Limit: limit, Detail: lockWaitDetail(dctx, info)}
		cancel(te)
	})
	return dctx, func() {
		if !timer.Stop() {
			<-done
		}
		cancel(nil)
	}
}

// lockWaitDetail describes the lock pgsnap's own sessions wait for, or returns "".
func lockWaitDetail(ctx context.Context, info conninfo.Info) string {
	ctx, cancel := context.WithTimeout(ctx, diagnoseTimeout)
	defer cancel()
	cfg, err := info.With("application_name", "pgsnap-diagnose").PgxConfig()
	if err != nil {
		return ""
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return ""
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `
SELECT coalesce(l.relation::regclass::text, l.locktype) AS object,
       l.mode,
       array_to_string(pg_blocking_pids(a.pid), ',') AS blockers
FROM pg_stat_activity a
JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
WHERE a.application_name = 'pgsnap' AND a.datname = current_database()`)
	if err != nil {
		return ""
	}
	var waits []string
	for rows.Next() {
		var object, mode, blockers string
		if rows.Scan(&object, &mode, &blockers) != nil {
			continue
		}
		w := fmt.Sprintf("pg_dump was waiting for %s on %s", mode, object)
		if blockers != "" {
			w += " held by server pid " + blockers
		}
		waits = append(waits, w)
	}
	if rows.Err() != nil || len(waits) == 0 {
		return ""
	}
	return strings.Join(waits, "; ") + " (a table lock held by another session; see pg_locks)"
}

// Stage explains an error of a stage of an attempt bounded by WithTimeout, cause first: when
// SNAPSHOT_TIMEOUT fired, the timeout and what pg_dump was waiting for; otherwise, when the
// error's cause is known (authentication, pg_hba.conf, a missing database, the connection,
// a privilege, a lock wait), a summary naming it with the user, server and database of the
// attempt, as a *CauseError. Other errors read "stage: error".
func Stage(ctx context.Context, stage string, err error) error {
	if te, ok := errors.AsType[*TimeoutError](context.Cause(ctx)); ok {
		e := &CauseError{Cause: CauseTimeout, Summary: te.Error(), Err: fmt.Errorf("%s: %w", stage, err)}
		if errors.As(err, new(*TimeoutError)) {
			// pg_dump's "stopped" error repeats the timeout; say it once, first.
			e.text = strings.Replace(e.Err.Error(), ": "+te.Error(), "", 1)
		} else {
			e.also = te
		}
		return e
	}
	staged := fmt.Errorf("%s: %w", stage, err)
	if ctx.Err() != nil {
		return staged
	}
	if ce, ok := err.(*CauseError); ok && ce.Summary != "" {
		// Already sorted (a lock wait): its summary stays first.
		return &CauseError{Cause: ce.Cause, Summary: ce.Summary, Err: fmt.Errorf("%s: %w", stage, ce.Err)}
	}
	if _, ok := errors.AsType[*CauseError](err); ok {
		return staged
	}
	info, _ := ctx.Value(infoKey{}).(conninfo.Info)
	cause, summary := classify(err, info)
	if summary == "" {
		return staged
	}
	return &CauseError{Cause: cause, Summary: summary, Err: staged}
}

// Explain names SNAPSHOT_TIMEOUT first in an error of an attempt bounded by WithTimeout when the
// timeout ended it, whatever stage it was in (an upload, the gate, a manifest), as Stage does.
func Explain(ctx context.Context, err error) error {
	te, ok := errors.AsType[*TimeoutError](context.Cause(ctx))
	if err == nil || !ok || errors.As(err, new(*TimeoutError)) {
		return err
	}
	return &CauseError{Cause: CauseTimeout, Summary: te.Error(), Err: err, also: te}
}
