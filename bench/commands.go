package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// Keys of the commands; goals and ratios look results up by them.
const (
	keySnapshot     = "pgsnap"
	keySnapshotJobs = "pgsnap-jobs"
	keySnapshotAge  = "pgsnap-age"
	keyPipeline     = "pipeline"
	keyDumpZ0       = "pg_dump-Z0"
	keyDumpFc       = "pg_dump-Fc"
	keyDumpDir      = "pg_dump-Fd"
	keyRestore      = "pgsnap-restore"
	keyRestoreAge   = "pgsnap-restore-age"
	keyPgRestore    = "pg_restore"
	keyPgRestoreZ0  = "pg_restore-Z0"
)

const (
	// restoreJobs is --jobs of pgsnap restore and -j of pg_restore.
	restoreJobs = "2"
	// restoreTargetName is the database restores go into, dropped and created again each time.
	restoreTargetName = "bench_restore"
	// dumpJobs is SNAPSHOT_DUMP_JOBS of the parallel pgsnap snapshot row and -j of pg_dump -Fd;
	// the other pgsnap snapshots run with SNAPSHOT_DUMP_JOBS=1.
	dumpJobs = 2
)

// variant is one command under test. prepare and clean are untimed; run is the timed part.
type variant struct {
	key     string
	label   string // the command as the table shows it
	prepare func(ctx context.Context) error
	run     func(ctx context.Context) (sample, error)
	clean   func() error // removes what run wrote
	// keep leaves the last run's output in place (clean is not called after it): later steps
	// read it (restores, the compressibility check).
	keep bool
}

// harness holds what every command of one data set shares.
type harness struct {
	cluster *pgtest.Cluster
	db      string
	pgsnap  string // absolute path of the pgsnap binary
	work    string // private directory for outputs, the passfile and the age identity
	// ageRecipient and ageIdentity are an X25519 key pair made for this run: the public key
	// for SNAPSHOT_AGE_RECIPIENTS, the path of the 0600 identity file for restores.
	ageRecipient string
	ageIdentity  string
	passfile     string // PGPASSFILE for pg_dump and pg_restore
	server       serverMeter
}

// snapshotOut is what the last successful pgsnap snapshot of a variant left for its restore.
type snapshotOut struct {
	dir, name string
	size      int64
}

// baseEnv is the environment children inherit: ours without libpq's PG* variables and without
// the settings the harness controls; other SNAPSHOT_* settings (compression and the like)
// pass through to pgsnap.
func baseEnv(environ []string) []string {
	var env []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PG") || controlled(name) {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// controlled reports whether the harness sets the variable itself for every command.
func controlled(name string) bool {
	switch name {
	case "DATABASE_URL", "SNAPSHOT_DIR", "SNAPSHOT_RESTORE_URL", "SNAPSHOT_TARGET", "SNAPSHOT_PG_BIN_DIR",
		"SNAPSHOT_TMPDIR", "SNAPSHOT_ENABLED", "SNAPSHOT_LOG_FORMAT", "SNAPSHOT_DUMP_JOBS":
		return true
	}
	return strings.HasPrefix(name, "SNAPSHOT_AGE_")
}

// pgEnv is the environment of pg_dump and pg_restore: TCP to the cluster like pgsnap, the
// password in a passfile.
func (h *harness) pgEnv() []string {
	return append(baseEnv(os.Environ()), "PGHOST="+h.cluster.Host, "PGPORT="+strconv.Itoa(h.cluster.Port),
		"PGUSER="+h.cluster.User, "PGPASSFILE="+h.passfile, "PGSSLMODE=disable")
}

// pgsnapEnv is pgsnap's environment. URLs with the password go through the environment only.
// jobs, when not 0, is SNAPSHOT_DUMP_JOBS (snapshots); restores leave it unset.
func (h *harness) pgsnapEnv(dir string, age bool, jobs int) []string {
	env := append(baseEnv(os.Environ()),
		"DATABASE_URL="+h.cluster.URL(h.db),
		"SNAPSHOT_DIR="+dir,
		"SNAPSHOT_PG_BIN_DIR="+h.cluster.BinDir,
		"SNAPSHOT_TMPDIR="+filepath.Join(h.work, "tmp"),
		"SNAPSHOT_RESTORE_URL="+h.cluster.URL(restoreTargetName),
		"SNAPSHOT_LOG_FORMAT=text")
	if jobs > 0 {
		env = append(env, "SNAPSHOT_DUMP_JOBS="+strconv.Itoa(jobs))
	}
	if age {
		env = append(env, "SNAPSHOT_AGE_RECIPIENTS="+h.ageRecipient, "SNAPSHOT_AGE_IDENTITY_FILE="+h.ageIdentity)
	}
	return env
}

func (h *harness) checkpoint(ctx context.Context) error {
	return h.cluster.Exec(ctx, h.db, "CHECKPOINT")
}

// emptyDir removes everything in dir, keeping dir.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}
