// Package pgsnap takes scheduled logical snapshots of a PostgreSQL database with pg_dump and keeps
// them safe: a snapshot is written under a temporary name, flushed to disk and renamed, and its JSON
// manifest (with the SHA-256 of the stored bytes) is committed last, so a snapshot exists if and only
// if its manifest does. Retention keeps the newest N complete snapshots and never fewer than one.
//
// A Go server embeds it as one goroutine:
//
//	cfg, err := pgsnap.ConfigFromEnv() // DATABASE_URL + SNAPSHOT_*
//	if err != nil {
//		return err // every problem, one line each
//	}
//	s, err := pgsnap.New(cfg, pgsnap.WithLogger(logger))
//	if err != nil {
//		return err
//	}
//	go s.Run(ctx) // returns nil at once when SNAPSHOT_ENABLED is not true
//
// The pgsnap command (cmd/pgsnap) is a thin layer over this package.
package pgsnap
