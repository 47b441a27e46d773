package catalog

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"

	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// ErrLocked is returned when another pgsnap (a replica of the same service, or a second daemon)
// holds the target's lock: it is taking a snapshot of the same database right now.
var ErrLocked = errors.New("another pgsnap holds the target's lock")

// lockKey is the advisory lock key of a target: every pgsnap protecting the target on this
// database derives the same one.
func lockKey(target string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pgsnap:" + target))
	return int64(h.Sum64())
}

// WriterLock takes the target's advisory lock on the source database, on a connection of its
// own held until release: an advisory lock belongs to its session, so a pooled connection could
// lose it silently. If this process dies, the session ends and the lock with it.
func WriterLock(ctx context.Context, info conninfo.Info, target string) (release func(), err error) {
	cfg, err := info.With("application_name", "pgsnap-lock").PgxConfig()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect for the target lock: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey(target)).Scan(&got); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("take the target lock: %w", err)
	}
	if !got {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("target %s: %w", target, ErrLocked)
	}
	return func() {
		// Closing the session releases the lock, also when the unlock itself cannot be sent.
		conn.Close(context.WithoutCancel(ctx))
	}, nil
}
