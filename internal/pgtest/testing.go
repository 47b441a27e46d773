package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// startTimeout bounds starting a cluster for tests; initdb plus start takes seconds.
const startTimeout = 2 * time.Minute

// suite is what Main set up for the test binary: the package cluster, or why there is none.
type suite struct {
	cluster *Cluster
	err     error // wraps ErrNoPostgres when cluster is nil
}

// pkgSuite is the package's only mutable state, and exists because TestMain has no other way
// to hand a value to the tests: Main stores it once before m.Run and tests only load it.
var pkgSuite atomic.Pointer[suite]

// inCI reports whether CI=true (or another true value of strconv.ParseBool): a missing
// PostgreSQL must then fail the tests, never skip them.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Main is for TestMain: it starts one cluster for the package, runs m.Run, stops the cluster
// and exits with the tests' status. Without server binaries it exits 1 when CI=true and
// otherwise runs the tests, whose Get calls then skip. Any other start error is printed with
// the server log tail, and Main exits 1.
func Main(m *testing.M) {
	// os.Exit is allowed here only: this is TestMain plumbing, and a test binary must report
	// its status through the exit code.
	os.Exit(Run(m))
}

// Run is Main without the exit: it returns the status for a TestMain that has its own set-up
// and tear-down around the tests.
func Run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	c, err := Start(ctx, Options{})
	cancel()
	switch {
	case errors.Is(err, ErrNoPostgres) && inCI():
		fmt.Fprintf(os.Stderr, "pgtest: CI=true and PostgreSQL is required: %v\n", err)
		return 1
	case errors.Is(err, ErrNoPostgres):
		fmt.Fprintf(os.Stderr, "pgtest: tests needing PostgreSQL will skip: %v\n", err)
		pkgSuite.Store(&suite{err: err})
		return m.Run()
	case err != nil:
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	pkgSuite.Store(&suite{cluster: c})
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Get returns the package cluster started by Main. Without one it skips the test with the
// reason, or fails it when CI=true. Calling Get without Main in TestMain fails the test.
func Get(t testing.TB) *Cluster {
	t.Helper()
	s := pkgSuite.Load()
	switch {
	case s == nil:
		t.Fatal("pgtest.Get: no package cluster; call pgtest.Main(m) from TestMain")
	case s.cluster == nil:
		skipOrFail(t, s.err)
	}
	return s.cluster
}

// StartOwn starts a separate cluster for a test that stops, freezes or otherwise disturbs the
// server, and stops it in t.Cleanup. Without server binaries it skips (fails when CI=true).
func StartOwn(t testing.TB) *Cluster {
	t.Helper()
	return startOwn(t, Options{Logf: t.Logf})
}

// StartMajor is StartOwn for PostgreSQL major (see Options.Major): the installed server when it
// is that major, else a build unpacked by FetchMajorsScript. Without one it skips, naming the
// script, or fails when CI=true. The cluster's Version is major.
func StartMajor(t testing.TB, major int) *Cluster {
	t.Helper()
	if major <= 0 {
		t.Fatalf("pgtest.StartMajor(%d): want a major version such as 13", major)
	}
	return startOwn(t, Options{Major: major, Logf: t.Logf})
}

func startOwn(t testing.TB, opts Options) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	c, err := Start(ctx, opts)
	if errors.Is(err, ErrNoPostgres) {
		skipOrFail(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI=true and PostgreSQL is required: %v", err)
	}
	t.Skipf("PostgreSQL not available: %v", err)
}

// CreateDB creates a database with a unique name like "t_<random>" and drops it in
// t.Cleanup. It returns the name.
func (c *Cluster) CreateDB(t testing.TB) string {
	t.Helper()
	name := "t_" + randomSuffix()
	if err := c.CreateDatabase(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.DropDatabase(ctx, name); err != nil {
			t.Error(err)
		}
	})
	return name
}

// randomSuffix returns 16 random characters of [a-z2-7] (80 bits), so the names need no
// quoting in hand-written SQL.
func randomSuffix() string {
	return strings.ToLower(rand.Text()[:16])
}
