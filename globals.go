package pgsnap

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/dump"
	"github.com/pgsnap/pgsnap/internal/conninfo"
)

// FormatGlobals is the format of a globals snapshot: the SQL of `pg_dumpall --globals-only`
// (roles with their password hashes, role settings, tablespaces) of one server.
const FormatGlobals = "globals-sql"

// globalsSuffix ends the target name of a server's globals: <server>.globals.
const globalsSuffix = ".globals"

// takeGlobals takes a globals snapshot: pg_dumpall --globals-only through the same encoder,
// destinations, commit gate and manifest as a database snapshot. Its data is secret (password
// hashes): private like every object, and encrypted when age recipients are set.
func (s *Scheduler) takeGlobals(ctx context.Context, name string, started time.Time, slot *time.Time, info conninfo.Info, log *slog.Logger) (Snapshot, error) {
	server, err := dump.ServerVersion(ctx, info)
	if err != nil {
		return Snapshot{}, fmt.Errorf("connect to server: %w", err)
	}
	bin, err := dump.Find(ctx, "pg_dumpall", server, s.cfg.PGBinDir)
	if err != nil {
		return Snapshot{}, err
	}
	encoding, err := s.encoding()
	if err != nil {
		return Snapshot{}, err
	}
	key := name + ".sql" + strings.TrimPrefix(encoding.suffix(), dataSuffix)
	w, err := s.createOutputs(ctx, key)
	if err != nil {
		return Snapshot{}, err
	}
	defer w.abort()
	h := sha256.New()
	stored := &countingWriter{w: io.MultiWriter(w, h)}
	enc, err := encoding.newEncoder(stored)
	if err != nil {
		return Snapshot{}, err
	}
	n, err := dump.Globals(ctx, dump.GlobalsOptions{Conn: info, Binary: bin, Server: server, Logger: log}, enc)
	if err != nil {
		enc.Abort(err)
		return Snapshot{}, fmt.Errorf("pg_dumpall --globals-only: %w", err)
	}
	if err := enc.Close(); err != nil {
		return Snapshot{}, err
	}
	if err := w.commit(ctx); err != nil {
		return Snapshot{}, err
	}
	host, _ := os.Hostname()
	snap := Snapshot{
		ManifestVersion: manifestVersion, Name: name, Target: s.target, Database: "", StartedAt: started,
		FinishedAt: s.now().UTC(), Data: key, Size: stored.n, SHA256: hex.EncodeToString(h.Sum(nil)),
		Format: FormatGlobals, PGDumpVersion: bin.Version.String(), ServerVersion: server.String(),
		Labels: s.labels, Host: host, PgsnapVersion: Version(), ArchiveSize: n,
	}
	encoding.describe(&snap)
	if slot != nil {
		t := slot.UTC()
		snap.Slot = &t
	}
	return s.commitEverywhere(ctx, w, snap, log)
}

// globalsFor finds the globals snapshot that goes with a database snapshot: the newest one of
// its server (<server>.globals, <server> being the target up to its first '.', or the target
// itself) taken at or before it, else the newest.
func (s *Scheduler) globalsFor(ctx context.Context, snap Snapshot) (Snapshot, error) {
	server, _, _ := strings.Cut(snap.Target, ".")
	want := map[string]bool{server + globalsSuffix: true, snap.Target + globalsSuffix: true}
	snaps, err := s.List(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	var newest *Snapshot
	for i, g := range snaps {
		if g.Format != FormatGlobals || !want[g.Target] {
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
	return Snapshot{}, fmt.Errorf("no globals snapshot of server %s (target %s%s): %w", server, server, globalsSuffix, ErrNotFound)
}

// applyGlobals applies a globals snapshot to the target's server, through psql with
// ON_ERROR_STOP: roles first (a role that exists already is left as it is, and the restoring
// user's own role is never altered), then the rest; the first SQL error stops it.
func (s *Scheduler) applyGlobals(ctx context.Context, g Snapshot, target conninfo.Info, server dump.Version) error {
	bin, err := dump.Find(ctx, "psql", server, s.cfg.PGBinDir)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// The stored bytes are checked on the way; a mismatch cuts the SQL short and is the error.
		err := s.decodeVerified(ctx, g, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	sql := idempotentRoles(pr, target.User(), s.log)
	err = dump.ApplySQL(ctx, dump.ApplySQLOptions{Conn: target.With("dbname", "postgres"), Binary: bin, Server: server, Logger: s.log}, sql)
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
					m[1], quoteLiteral(m[1]))
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
	return quoteIdent(name)
}
