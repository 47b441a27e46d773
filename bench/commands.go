package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// Keys of the commands; goals and ratios look results up by them.
const (
	keySnapshot    = "pgsnap"
	keySnapshotAge = "pgsnap-age"
	keyDumpZ0      = "pg_dump-Z0"
	keyDumpFc      = "pg_dump-Fc"
	keyRestore     = "pgsnap-restore"
	keyRestoreAge  = "pgsnap-restore-age"
	keyPgRestore   = "pg_restore"
)

const (
	// restoreJobs is --jobs of pgsnap restore and -j of pg_restore.
	restoreJobs = "2"
	// restoreTargetName is the database restores go into, dropped and created again each time.
	restoreTargetName = "bench_restore"
)

// variant is one command under test. prepare and clean are untimed; run is the timed part.
type variant struct {
	key     string
	label   string // the command as the table shows it
	prepare func(ctx context.Context) error
	run     func(ctx context.Context) (sample, error)
	clean   func() error // removes what run wrote; not called after the last run, whose output later steps use
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
		"SNAPSHOT_TMPDIR", "SNAPSHOT_ENABLED", "SNAPSHOT_LOG_FORMAT":
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
func (h *harness) pgsnapEnv(dir string, age bool) []string {
	env := append(baseEnv(os.Environ()),
		"DATABASE_URL="+h.cluster.URL(h.db),
		"SNAPSHOT_DIR="+dir,
		"SNAPSHOT_PG_BIN_DIR="+h.cluster.BinDir,
		"SNAPSHOT_TMPDIR="+filepath.Join(h.work, "tmp"),
		"SNAPSHOT_RESTORE_URL="+h.cluster.URL(restoreTargetName),
		"SNAPSHOT_LOG_FORMAT=text")
	if age {
		env = append(env, "SNAPSHOT_AGE_RECIPIENTS="+h.ageRecipient, "SNAPSHOT_AGE_IDENTITY_FILE="+h.ageIdentity)
	}
	return env
}

func (h *harness) checkpoint(ctx context.Context) error {
	return h.cluster.Exec(ctx, h.db, "CHECKPOINT")
}

// snapshotVariants are pgsnap snapshot, with and without age, and the two pg_dump baselines.
// The returned snapshotOuts fill in as the pgsnap variants run.
func (h *harness) snapshotVariants() (vs []*variant, plain, age *snapshotOut) {
	plain, age = &snapshotOut{}, &snapshotOut{}
	vs = []*variant{
		h.pgsnapSnapshot(keySnapshot, "pgsnap snapshot", plain, false),
		h.pgDump(keyDumpZ0, "pg_dump -Fc -Z0 -f FILE", "dump-z0.dump", "-Z0"),
		h.pgDump(keyDumpFc, "pg_dump -Fc -f FILE", "dump-fc.dump"),
		h.pgsnapSnapshot(keySnapshotAge, "pgsnap snapshot (age)", age, true),
	}
	return vs, plain, age
}

func (h *harness) pgsnapSnapshot(key, label string, out *snapshotOut, age bool) *variant {
	dir := filepath.Join(h.work, key)
	env := h.pgsnapEnv(dir, age)
	return &variant{
		key:   key,
		label: label,
		prepare: func(ctx context.Context) error {
			*out = snapshotOut{}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			return h.checkpoint(ctx)
		},
		run: func(ctx context.Context) (sample, error) {
			m, err := measure(ctx, env, h.work, h.pgsnap, "snapshot")
			if err != nil {
				return sample{}, err
			}
			name := lastLine(m.stdout)
			size, err := checkSnapshot(dir, name, age, m.stderr)
			if err != nil {
				return sample{}, err
			}
			*out = snapshotOut{dir: dir, name: name, size: size}
			return sample{wall: m.wall, cpu: m.cpu, maxRSS: m.maxRSS, size: size}, nil
		},
		clean: func() error { return emptyDir(dir) },
	}
}

// manifest is the part of pgsnap's manifest the harness reads.
type manifest struct {
	Data       string `json:"data"`
	Size       int64  `json:"size"`
	Encrypted  bool   `json:"encrypted"`
	Encryption string `json:"encryption"` // "age"; newer manifests only
}

// checkSnapshot reads the manifest of snapshot name and returns the size of its data object,
// checked against the file itself. With age it must be encrypted: an older pgsnap ignores
// the age settings with a warning, and an unencrypted result must not pass as the age run.
func checkSnapshot(dir, name string, age bool, stderr string) (int64, error) {
	if name == "" {
		return 0, errors.New("pgsnap snapshot printed no snapshot name")
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		return 0, fmt.Errorf("read manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, fmt.Errorf("parse manifest %s.json: %w", name, err)
	}
	if m.Data == "" || strings.ContainsAny(m.Data, "/\\") {
		return 0, fmt.Errorf("manifest %s.json names data %q", name, m.Data)
	}
	size, err := fileSize(filepath.Join(dir, m.Data))
	if err != nil {
		return 0, fmt.Errorf("data of %s: %w", name, err)
	}
	if size != m.Size {
		return 0, fmt.Errorf("data of %s is %d bytes, manifest says %d", name, size, m.Size)
	}
	if age && !m.Encrypted && m.Encryption == "" {
		msg := "snapshot is not encrypted: this pgsnap ignored SNAPSHOT_AGE_RECIPIENTS"
		if w := linesContaining(stderr, "SNAPSHOT_AGE"); w != "" {
			msg += " (" + w + ")"
		}
		return 0, errors.New(msg)
	}
	return size, nil
}

func (h *harness) pgDump(key, label, file string, extra ...string) *variant {
	path := filepath.Join(h.work, file)
	args := append([]string{"-Fc"}, extra...)
	args = append(args, "-f", path, "-d", h.db)
	env := h.pgEnv()
	bin := filepath.Join(h.cluster.BinDir, "pg_dump")
	return &variant{
		key:     key,
		label:   label,
		prepare: h.checkpoint,
		run: func(ctx context.Context) (sample, error) {
			m, err := measure(ctx, env, h.work, bin, args...)
			if err != nil {
				return sample{}, err
			}
			size, err := fileSize(path)
			if err != nil {
				return sample{}, err
			}
			return sample{wall: m.wall, cpu: m.cpu, maxRSS: m.maxRSS, size: size}, nil
		},
		clean: func() error { return os.Remove(path) },
	}
}

// restoreVariants restore pgsnap's snapshots (plain and age) and pg_dump -Fc's archive into a
// fresh, empty database each time.
func (h *harness) restoreVariants(plain, age *snapshotOut) []*variant {
	return []*variant{
		h.pgsnapRestore(keyRestore, "pgsnap restore --jobs 2", plain, false),
		h.pgRestore(keyPgRestore, "pg_restore -j2 (pg_dump -Fc file)", filepath.Join(h.work, "dump-fc.dump")),
		h.pgsnapRestore(keyRestoreAge, "pgsnap restore --jobs 2 (age)", age, true),
	}
}

// resetTarget drops the restore target and creates it empty, as pg_restore -d needs it.
func (h *harness) resetTarget(ctx context.Context) error {
	if err := h.cluster.DropDatabase(ctx, restoreTargetName); err != nil {
		return err
	}
	if err := h.cluster.CreateDatabase(ctx, restoreTargetName); err != nil {
		return err
	}
	return h.checkpoint(ctx)
}

func (h *harness) dropTarget() error {
	return h.cluster.DropDatabase(context.Background(), restoreTargetName)
}

func (h *harness) pgsnapRestore(key, label string, in *snapshotOut, age bool) *variant {
	return &variant{
		key:   key,
		label: label,
		prepare: func(ctx context.Context) error {
			if in.name == "" {
				return errors.New("no snapshot to restore: its pgsnap snapshot run failed")
			}
			return h.resetTarget(ctx)
		},
		run: func(ctx context.Context) (sample, error) {
			env := h.pgsnapEnv(in.dir, age)
			m, err := measure(ctx, env, h.work, h.pgsnap, "restore", in.name, "--clean", "--jobs", restoreJobs)
			if err != nil {
				return sample{}, err
			}
			return sample{wall: m.wall, cpu: m.cpu, maxRSS: m.maxRSS, size: in.size}, nil
		},
		clean: h.dropTarget,
	}
}

func (h *harness) pgRestore(key, label, path string) *variant {
	env := h.pgEnv()
	bin := filepath.Join(h.cluster.BinDir, "pg_restore")
	var size int64
	return &variant{
		key:   key,
		label: label,
		prepare: func(ctx context.Context) error {
			var err error
			if size, err = fileSize(path); err != nil {
				return fmt.Errorf("no pg_dump -Fc archive to restore: %w", err)
			}
			return h.resetTarget(ctx)
		},
		run: func(ctx context.Context) (sample, error) {
			m, err := measure(ctx, env, h.work, bin, "-j", restoreJobs, "-d", restoreTargetName, path)
			if err != nil {
				return sample{}, err
			}
			return sample{wall: m.wall, cpu: m.cpu, maxRSS: m.maxRSS, size: size}, nil
		},
		clean: h.dropTarget,
	}
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
