package restore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/conninfo"
	"github.com/pgsnap/pgsnap/internal/pgadmin"
)

// GlobalsSuffix ends the target name of a server's globals: <server>.globals.
const GlobalsSuffix = ".globals"

// globalsFor finds the globals snapshot that goes with a database snapshot: the newest one of
// its server (<server>.globals, <server> being the target up to its first '.', or the target
// itself) taken at or before it, else the newest.
func (r *Restorer) globalsFor(ctx context.Context, snap catalog.Snapshot) (catalog.Snapshot, error) {
	server, _, _ := strings.Cut(snap.Target, ".")
	want := map[string]bool{server + GlobalsSuffix: true, snap.Target + GlobalsSuffix: true}
	snaps, err := r.cat.List(ctx)
	if err != nil {
		return catalog.Snapshot{}, err
	}
	var newest *catalog.Snapshot
	for i, g := range snaps {
		if g.Format != catalog.FormatGlobals || !want[g.Target] {
			continue
		}
		if !g.Time().After(snap.Time().Add(time.Hour)) {
			return g, nil // newest first: the newest not after the snapshot (an hour's slack)
		}
		if newest == nil {
			newest = &snaps[i]
		}
	}
	if newest != nil {
		return *newest, nil
	}
	return catalog.Snapshot{}, fmt.Errorf("no globals snapshot of server %s (target %s%s): %w", server, server, GlobalsSuffix, catalog.ErrNotFound)
}

// applyGlobals applies a globals snapshot to the target's server, through psql with
// ON_ERROR_STOP: roles first (a role that exists already is left as it is, and the restoring
// user's own role is never altered), then the rest; the first SQL error stops it.
func (r *Restorer) applyGlobals(ctx context.Context, g catalog.Snapshot, target conninfo.Info, server dump.Version) error {
	bin, err := dump.Find(ctx, "psql", server, r.cfg.PGBinDir)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// The stored bytes are checked on the way; a mismatch cuts the SQL short and is the error.
		err := r.cat.Copy(ctx, g, catalog.Archive, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	sql := idempotentRoles(pr, target.User(), r.log)
	err = dump.ApplySQL(ctx, dump.ApplySQLOptions{Conn: target.With("dbname", "postgres"), Binary: bin, Server: server, Logger: r.log}, sql)
	pr.CloseWithError(errPsqlStopped)
	sql.Close()
	if derr := <-done; derr != nil && !errors.Is(derr, errPsqlStopped) {
		return fmt.Errorf("globals %s: %w", g.Name, derr)
	}
	if err != nil {
		return fmt.Errorf("apply globals %s: %w", g.Name, err)
	}
	return nil
}

// errPsqlStopped ends the decoding of a globals snapshot once psql has stopped reading.
var errPsqlStopped = errors.New("psql stopped")

var (
	createRole = regexp.MustCompile(`^CREATE ROLE ("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*);$`)
	alterRole  = regexp.MustCompile(`^ALTER ROLE ("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*) `)
)

// idempotentRoles rewrites pg_dumpall's globals so they apply to a cluster that has some of the
// roles already (every cluster has its bootstrap superuser): CREATE ROLE of an existing role is
// skipped, and the restoring user's role is neither created nor altered (its password and
// attributes on the target stay).
// Close the result: it ends the rewriting goroutine (after r ends or fails).
func idempotentRoles(r io.Reader, self string, log *slog.Logger) io.ReadCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		bw := bufio.NewWriter(pw)
		selfIdent := quoteIdentIfNeeded(self)
		for sc.Scan() {
			line := sc.Text()
			if m := createRole.FindStringSubmatch(line); m != nil {
				if m[1] == selfIdent {
					continue
				}
				line = fmt.Sprintf("DO $pgsnap$ BEGIN CREATE ROLE %s; EXCEPTION WHEN duplicate_object THEN RAISE NOTICE 'role %%s exists', %s; END $pgsnap$;",
					m[1], pgadmin.QuoteLiteral(m[1]))
			} else if m := alterRole.FindStringSubmatch(line); m != nil && m[1] == selfIdent {
				log.Info("globals: the restoring user's own role is left as it is", "role", self)
				continue
			}
			bw.WriteString(line)
			bw.WriteByte('\n')
		}
		err := sc.Err()
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		pw.CloseWithError(err)
	}()
	return struct {
		io.Reader
		io.Closer
	}{pr, closerFunc(func() error {
		pr.Close()
		<-done
		return nil
	})}
}

// quoteIdentIfNeeded writes a role name as pg_dumpall does: bare when it is a plain lower-case
// identifier, else double-quoted.
func quoteIdentIfNeeded(name string) string {
	if regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`).MatchString(name) {
		return name
	}
	return pgadmin.QuoteIdent(name)
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
