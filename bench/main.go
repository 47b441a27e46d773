// Command bench measures pgsnap against pg_dump on the same database: it starts a throwaway
// PostgreSQL, builds a benchmark database from scratch, times pgsnap snapshot (one stream,
// SNAPSHOT_DUMP_JOBS=2, age) against the C pipeline pg_dump -Fc -Z0 | zstd -T0 -1, pg_dump
// -Fc -Z0, pg_dump -Fc and pg_dump -Fd -j2, and pgsnap restore against pg_restore -j2 of the
// pg_dump -Fc and -Fc -Z0 archives, in alternation, then reports wall time, client and server
// CPU, peak RSS, output sizes, paired ratios and the inputs of a wall-time estimate for larger
// machines, judges the goals, and adds a dated section to RESULTS.md.
// `make bench` runs it; bench/README.md explains the figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// options are the command-line flags.
type options struct {
	size, data string
	pairs      int
	pgsnap     string
	out        string
	workdir    string
}

func main() {
	var o options
	flag.StringVar(&o.size, "size", "default", "database size: small (~95 MB, a quick check in under two minutes), medium (~0.7 GB) or default (~2.6 GB)")
	flag.StringVar(&o.data, "data", "bench", "data set: bench (compresses like application data), hard (random hex) or all")
	flag.IntVar(&o.pairs, "pairs", 3, "timed rounds after the warm-up (each round runs every command once)")
	flag.StringVar(&o.pgsnap, "pgsnap", "bin/pgsnap", "pgsnap binary to measure (make build)")
	flag.StringVar(&o.out, "out", "bench/RESULTS.md", "results file to add this run's section to (\"\": print only)")
	flag.StringVar(&o.workdir, "workdir", "", "directory for snapshots, dumps and restores' temporary files (default: the OS temp dir)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		stop()
		os.Exit(1) // main alone decides the exit status, as in cmd/pgsnap
	}
}

func run(ctx context.Context, log *slog.Logger, o options) (err error) {
	started := time.Now()
	sc, ok := scales[o.size]
	if !ok {
		return fmt.Errorf("-size %q: want small, medium or default", o.size)
	}
	sets, err := dataSetsFor(o.data, sc)
	if err != nil {
		return err
	}
	if o.pairs < 1 {
		return fmt.Errorf("-pairs %d: want at least 1 (3 or more for figures worth reporting)", o.pairs)
	}
	bin, err := filepath.Abs(o.pgsnap)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		return fmt.Errorf("pgsnap binary %s not found: run make build, or pass -pgsnap", bin)
	}
	var prior []record
	if o.out != "" {
		text, err := readResults(o.out)
		if err != nil {
			return err
		}
		prior = parseRecords(text)
	}

	work, err := os.MkdirTemp(o.workdir, "pgsnap-bench-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(work)) }()
	log.Info("starting a throwaway PostgreSQL")
	cluster, err := pgtest.Start(ctx, pgtest.Options{Logf: func(format string, args ...any) {
		log.Debug(fmt.Sprintf(format, args...))
	}})
	if errors.Is(err, pgtest.ErrNoPostgres) {
		return fmt.Errorf("%w\nrun scripts/ensure-postgres.sh (installs Debian's postgresql package as root) or install PostgreSQL", err)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cluster.Stop()) }()
	if err := tune(ctx, cluster); err != nil {
		return err
	}
	h := &harness{cluster: cluster, pgsnap: bin, work: work, server: serverMeter{dataDir: cluster.DataDir}}
	if err := h.secrets(); err != nil {
		return err
	}

	rep := report{
		started:   started,
		size:      o.size,
		data:      o.data,
		pairs:     o.pairs,
		machine:   describeMachine(ctx, cluster, bin),
		transport: transport,
		server:    serverSettings,
		passed:    passedSettings(os.Environ()),
		prior:     prior,
	}
	for _, set := range sets {
		res, err := h.measureSet(ctx, log, set, o.pairs)
		if err != nil {
			return fmt.Errorf("data set %s: %w", set.name, err)
		}
		rep.sets = append(rep.sets, res)
	}
	rep.took = time.Since(started)
	section := rep.markdown()
	fmt.Print(section)
	if o.out == "" {
		return nil
	}
	text, err := readResults(o.out)
	if err != nil {
		return err
	}
	if err := writeResults(o.out, insertSection(text, section)); err != nil {
		return err
	}
	log.Info("results written", "file", o.out, "took", rep.took.Round(time.Second))
	return nil
}

const (
	transport = "every timed command connects over TCP to 127.0.0.1 with scram-sha-256 (pgsnap: the URLs in " +
		"DATABASE_URL and SNAPSHOT_RESTORE_URL of its environment; pg_dump and pg_restore: a 0600 PGPASSFILE); " +
		"only building the data uses the unix socket"
	serverSettings = "a throwaway cluster (internal/pgtest) on this machine, fsync=off, synchronous_commit=off, " +
		"full_page_writes=off (no flush costs, for either side), shared_buffers=256MB, maintenance_work_mem=256MB, " +
		"max_wal_size=4GB"
)

// tune sets the server closer to a real one than a test cluster (which keeps memory small),
// and restarts it for shared_buffers.
func tune(ctx context.Context, c *pgtest.Cluster) error {
	for _, s := range []string{
		"ALTER SYSTEM SET shared_buffers = '256MB'",
		"ALTER SYSTEM SET maintenance_work_mem = '256MB'",
		"ALTER SYSTEM SET max_wal_size = '4GB'",
		"ALTER SYSTEM SET checkpoint_timeout = '30min'",
	} {
		if err := c.Exec(ctx, "postgres", s); err != nil {
			return fmt.Errorf("tune server: %w", err)
		}
	}
	if err := c.StopServer("fast"); err != nil {
		return fmt.Errorf("tune server: %w", err)
	}
	if err := c.StartServer(); err != nil {
		return fmt.Errorf("tune server: %w", err)
	}
	return nil
}

// secrets writes the passfile of pg_dump and pg_restore and makes the age key pair, both
// private to the work directory.
func (h *harness) secrets() error {
	h.passfile = filepath.Join(h.work, "pgpass")
	line := fmt.Sprintf("%s:%d:*:%s:%s\n", h.cluster.Host, h.cluster.Port, h.cluster.User, passEscape(h.cluster.Password))
	if err := os.WriteFile(h.passfile, []byte(line), 0o600); err != nil {
		return fmt.Errorf("write passfile: %w", err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return fmt.Errorf("generate age key: %w", err)
	}
	h.ageRecipient = id.Recipient().String()
	h.ageIdentity = filepath.Join(h.work, "age-identity.txt")
	if err := os.WriteFile(h.ageIdentity, []byte(id.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write age identity: %w", err)
	}
	return nil
}

// passEscape escapes a passfile field.
func passEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
}

// measureSet builds one data set and runs both comparisons on it.
func (h *harness) measureSet(ctx context.Context, log *slog.Logger, set dataSet, pairs int) (setResult, error) {
	res := setResult{name: set.name, about: set.about}
	log.Info("building data set", "data", set.name)
	began := time.Now()
	if err := h.cluster.CreateDatabase(ctx, set.name); err != nil {
		return res, err
	}
	if err := set.build(ctx, &builder{cluster: h.cluster, db: set.name, log: log}); err != nil {
		return res, err
	}
	res.buildTook = time.Since(began)
	conn, err := h.cluster.Connect(ctx, set.name)
	if err != nil {
		return res, err
	}
	err = conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&res.dbBytes)
	conn.Close(ctx)
	if err != nil {
		return res, fmt.Errorf("database size: %w", err)
	}
	log.Info("data set built", "data", set.name, "size", formatBytes(float64(res.dbBytes)), "took", res.buildTook.Round(time.Second))

	sh := *h
	sh.db = set.name
	sh.work = filepath.Join(h.work, set.name)
	if err := os.MkdirAll(filepath.Join(sh.work, "tmp"), 0o700); err != nil {
		return res, err
	}
	defer os.RemoveAll(sh.work)
	snaps, plain, aged := sh.snapshotVariants()
	if res.snapshots, err = alternate(ctx, log, snaps, pairs, sh.server.read); err != nil {
		return res, err
	}
	z0 := filepath.Join(sh.work, "dump-z0.dump")
	if res.z0Bytes, err = fileSize(z0); err != nil {
		log.Warn("no pg_dump -Fc -Z0 archive: figures per GB of archive left out", "err", err)
	} else if _, res.z0Zstd, err = zstdLevel1(ctx, z0); err != nil {
		log.Warn("compressibility check skipped", "err", err)
	}
	if res.restores, err = alternate(ctx, log, sh.restoreVariants(plain, aged), pairs, sh.server.read); err != nil {
		return res, err
	}
	return res, sh.dropTarget()
}

// passedSettings lists the SNAPSHOT_* variables of environ that reach pgsnap unchanged, with
// values unless the name suggests a secret.
func passedSettings(environ []string) []string {
	var out []string
	for _, kv := range baseEnv(environ) {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "SNAPSHOT_") {
			continue
		}
		if strings.ContainsAny(value, "@") || containsAny(name, "URL", "PASSWORD", "SECRET", "KEY", "TOKEN", "IDENTITY") {
			value = "(set)"
		}
		out = append(out, "`"+name+"="+value+"`")
	}
	slices.Sort(out)
	return out
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
