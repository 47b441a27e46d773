// Command demo shows pgsnap end to end on a throwaway PostgreSQL: it starts a cluster from the
// installed server binaries, loads the pagila sample schema with generated rows, takes a snapshot
// with the pgsnap binary, lists it, restores it into a fresh database, checks that every table,
// sequence and large object is identical, and tears everything down. `make demo` runs it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

func main() {
	pgsnapBin := flag.String("pgsnap", "bin/pgsnap", "pgsnap binary to demonstrate")
	schema := flag.String("schema", "testdata/pagila-schema.sql", "schema to load")
	data := flag.String("data", "testdata/pagila-data.sql", "rows to load")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *pgsnapBin, *schema, *data); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func run(ctx context.Context, pgsnapBin, schemaFile, dataFile string) (err error) {
	bin, err := filepath.Abs(pgsnapBin)
	if err != nil {
		return err
	}
	step("starting a throwaway PostgreSQL from the installed server binaries")
	cluster, err := pgtest.Start(ctx, pgtest.Options{})
	if errors.Is(err, pgtest.ErrNoPostgres) {
		return fmt.Errorf("%w\nrun scripts/ensure-postgres.sh (installs Debian's postgresql package as root) or install PostgreSQL", err)
	}
	if err != nil {
		return err
	}
	defer func() {
		step("tearing down")
		if serr := cluster.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	fmt.Printf("PostgreSQL %d listening on %s (data in %s)\n", cluster.Version, cluster.Addr(), cluster.DataDir)

	step("loading the pagila sample database (schema %s, generated rows)", schemaFile)
	if err := cluster.CreateDatabase(ctx, "pagila"); err != nil {
		return err
	}
	for _, f := range []string{schemaFile, dataFile} {
		sql, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := cluster.Exec(ctx, "pagila", string(sql)); err != nil {
			return fmt.Errorf("load %s: %w", f, err)
		}
	}

	dir, err := os.MkdirTemp("", "pgsnap-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	snapDir := filepath.Join(dir, "snapshots")
	env := append(os.Environ(),
		"DATABASE_URL="+cluster.URL("pagila"),
		"SNAPSHOT_DIR="+snapDir,
		"SNAPSHOT_RETENTION=3",
		"SNAPSHOT_RESTORE_URL="+cluster.URL("pagila_restored"),
	)

	step("pgsnap snapshot")
	out, err := pgsnap(ctx, bin, env, "snapshot")
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	name := lines[len(lines)-1]
	fmt.Printf("snapshot %s committed\n", name)

	step("pgsnap list")
	if out, err = pgsnap(ctx, bin, env, "list"); err != nil {
		return err
	}
	fmt.Print(out)

	step("pgsnap verify")
	if out, err = pgsnap(ctx, bin, env, "verify"); err != nil {
		return err
	}
	fmt.Print(out)

	step("pgsnap restore %s into a fresh database pagila_restored", name)
	if _, err = pgsnap(ctx, bin, env, "restore", name); err != nil {
		return err
	}

	step("comparing every table, sequence and large object")
	return compare(ctx, cluster, "pagila", "pagila_restored")
}

// pgsnap runs the pgsnap binary, streaming its log to stderr, and returns its stdout.
func pgsnap(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	fmt.Printf("$ pgsnap %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("pgsnap %s: %w", strings.Join(args, " "), err)
	}
	return stdout.String(), nil
}

func compare(ctx context.Context, c *pgtest.Cluster, source, restored string) error {
	fp := func(db string) (map[string]string, error) {
		conn, err := c.Connect(ctx, db)
		if err != nil {
			return nil, err
		}
		defer conn.Close(ctx)
		return pgtest.Fingerprint(ctx, conn)
	}
	want, err := fp(source)
	if err != nil {
		return err
	}
	got, err := fp(restored)
	if err != nil {
		return err
	}
	var rows, differ int
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			differ++
			fmt.Printf("DIFFERENT %s: source %s, restored %s\n", k, want[k], got[k])
		}
		var n int
		if _, err := fmt.Sscanf(want[k], "rows=%d", &n); err == nil {
			rows += n
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			differ++
			fmt.Printf("EXTRA %s in the restored database\n", k)
		}
	}
	if differ > 0 || len(want) == 0 {
		return fmt.Errorf("restored database differs from the source in %d of %d objects", differ, len(want))
	}
	fmt.Printf("identical: %d objects (%d rows) match between %s and %s\n", len(want), rows, source, restored)
	return nil
}
