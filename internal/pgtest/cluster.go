package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures Start. The zero value is ready to use.
type Options struct {
	// BinDir holds initdb, pg_ctl and postgres. Default: $PGTEST_BIN_DIR, else the highest
	// /usr/lib/postgresql/*/bin holding initdb, else the directory of initdb on PATH.
	BinDir string
	// Major, when not 0, is the PostgreSQL major version the cluster must run. The installed
	// server (as found for BinDir) is used when it is that major; otherwise
	// /usr/lib/postgresql/<Major>/bin, else MajorsDir()/<Major>, where FetchMajorsScript
	// unpacks builds of other majors. With BinDir set, BinDir must hold that major. When none
	// is found, Start's error wraps ErrNoPostgres and names the script.
	Major int
	// Logf, if set, receives progress and diagnostics. It never receives the password.
	Logf func(format string, args ...any)
}

// Cluster is a throwaway PostgreSQL cluster made by Start. Its methods are safe for concurrent
// use; the exported fields do not change after Start returns. String, GoString and LogValue
// leave the password out, so printing or logging a *Cluster does not reveal it.
type Cluster struct {
	BinDir    string // the directory of initdb, pg_ctl and postgres
	Host      string // "127.0.0.1"
	Port      int    // TCP port, kept across StopServer and StartServer
	DataDir   string // inside a private temporary directory that Stop removes
	SocketDir string // unix_socket_directories; local connections there need no password
	User      string // superuser "postgres"
	Password  string // random; TCP connections use scram-sha-256
	Version   int    // server major version, e.g. 15

	baseDir string // holds DataDir, SocketDir and nothing else of value: Stop removes it
	logFile string
	owner   *serverUser
	libDir  string // put in LD_LIBRARY_PATH of the server programs; "" for installed ones
	logf    func(format string, args ...any)

	mu      sync.Mutex
	running bool // the server was started and not stopped through us
	removed bool // Stop ran
}

// startAttempts bounds retries when the probed free port is taken before the server binds it.
const startAttempts = 5

// serverTimeout bounds each pg_ctl start or stop (pg_ctl's own -t plus slack).
const serverTimeout = 90 * time.Second

// Start creates a cluster in a new temporary directory and starts its server on a free port of
// 127.0.0.1. Stop it with Stop, which also removes its directories. When no server binaries
// (of opts.Major, when set) are found the error wraps ErrNoPostgres; when the server does not
// come up it carries the tail of the server log.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	var bins majorBinaries
	if opts.Major == 0 {
		bins.binDir, err = findBinDir(opts.BinDir)
	} else {
		bins, err = findMajor(ctx, opts.BinDir, opts.Major)
	}
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	owner, err := lookupServerUser()
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	// os.TempDir is world-writable with the sticky bit, so a server running as another OS user
	// can reach the directory once it owns it.
	base, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c := &Cluster{
		BinDir:    bins.binDir,
		Host:      "127.0.0.1",
		DataDir:   filepath.Join(base, "data"),
		SocketDir: filepath.Join(base, "sock"),
		User:      "postgres",
		Password:  rand.Text(),
		baseDir:   base,
		owner:     owner,
		libDir:    bins.libDir,
		logf:      opts.Logf,
	}
	c.logFile = filepath.Join(c.DataDir, "server.log")
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("start postgres: %w", err), c.Stop())
		}
	}()
	if err := owner.chown(base); err != nil {
		return nil, err
	}
	for _, dir := range []string{c.DataDir, c.SocketDir} {
		if err := c.mkdirOwned(dir); err != nil {
			return nil, err
		}
	}
	if bins, err = bins.reachable(ctx, owner, filepath.Join(base, "pg")); err != nil {
		return nil, err
	}
	if bins.binDir != c.BinDir {
		c.log("pgtest: the server user cannot reach %s; running a linked copy in %s", c.BinDir, bins.binDir)
	}
	c.BinDir, c.libDir = bins.binDir, bins.libDir
	began := time.Now()
	if err := c.initdb(ctx); err != nil {
		return nil, err
	}
	c.log("pgtest: initdb %s in %s", c.DataDir, time.Since(began).Round(time.Millisecond))
	if err := c.configure(); err != nil {
		return nil, err
	}
	if err := c.listen(ctx); err != nil {
		return nil, err
	}
	version, err := os.ReadFile(filepath.Join(c.DataDir, "PG_VERSION"))
	if err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	if c.Version, err = strconv.Atoi(strings.TrimSpace(string(version))); err != nil {
		return nil, fmt.Errorf("parse server version: %w", err)
	}
	if opts.Major != 0 && c.Version != opts.Major {
		return nil, fmt.Errorf("server in %s is PostgreSQL %d, want %d", c.BinDir, c.Version, opts.Major)
	}
	c.log("pgtest: PostgreSQL %d on %s after %s", c.Version, c.Addr(), time.Since(began).Round(time.Millisecond))
	return c, nil
}

// initdb creates the cluster. The password reaches initdb through a file, never argv.
func (c *Cluster) initdb(ctx context.Context) error {
	pwfile := filepath.Join(c.baseDir, "pwfile")
	if err := c.writeOwned(pwfile, []byte(c.Password+"\n")); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	var err error
	for _, locale := range []string{"C.UTF-8", "C"} {
		err = c.run(ctx, "initdb", "-D", c.DataDir, "-U", c.User,
			"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+pwfile,
			"-E", "UTF8", "--locale="+locale, "--no-sync")
		if err == nil || !strings.Contains(err.Error(), "locale") {
			return err
		}
		c.log("pgtest: initdb with locale %s: %v", locale, err)
		// initdb may leave files behind; the retry needs an empty directory.
		if rerr := os.RemoveAll(c.DataDir); rerr != nil {
			return errors.Join(err, rerr)
		}
		if rerr := c.mkdirOwned(c.DataDir); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	return err
}

// configure writes the test settings to pgtest.conf (included from postgresql.conf, so the
// port can be rewritten on a retry) and replaces pg_hba.conf.
func (c *Cluster) configure() error {
	conf := filepath.Join(c.DataDir, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("configure server: %w", err)
	}
	_, err = f.WriteString("\ninclude 'pgtest.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("configure server: %w", err)
	}
	hba := "local all all trust\n" +
		"host all all 127.0.0.1/32 scram-sha-256\n" +
		"host all all ::1/128 scram-sha-256\n"
	return c.writeOwned(filepath.Join(c.DataDir, "pg_hba.conf"), []byte(hba))
}

// writeSettings writes pgtest.conf for the given port. Durability settings are off: a crashed
// test cluster is thrown away, never recovered.
func (c *Cluster) writeSettings(port int) error {
	settings := fmt.Sprintf(`listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = %s
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 32MB
password_encryption = 'scram-sha-256'
logging_collector = off
`, port, quoteSetting(c.SocketDir))
	return c.writeOwned(filepath.Join(c.DataDir, "pgtest.conf"), []byte(settings))
}

// listen starts the server on a free port. Probing a port and binding it are not atomic, so a
// start that lost the port to another process is retried with a new one.
func (c *Cluster) listen(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		if err := c.writeSettings(port); err != nil {
			return err
		}
		c.Port = port
		err = c.startServer(ctx)
		if err == nil || attempt == startAttempts || !errors.Is(err, errPortInUse) {
			return err
		}
		c.log("pgtest: port %d taken before the server bound it; retrying", port)
	}
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	return port, nil
}

// Stop stops the server at once (pg_ctl stop -m immediate, falling back to killing the
// postmaster) and removes all of the cluster's directories. It is idempotent: later calls
// return nil.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil
	}
	c.removed = true
	var errs []error
	// The pid file, not c.running, tells whether a postmaster may be alive: a start that
	// timed out or was cancelled can still have launched one.
	if _, err := os.Stat(filepath.Join(c.DataDir, "postmaster.pid")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
		err := c.run(ctx, "pg_ctl", "stop", "-D", c.DataDir, "-m", "immediate", "-w", "-t", "30")
		cancel()
		if err != nil {
			c.log("pgtest: %v; killing the postmaster", err)
			if kerr := killPostmaster(c.DataDir); kerr != nil {
				errs = append(errs, err, kerr)
			}
		}
	}
	c.running = false
	if err := os.RemoveAll(c.baseDir); err != nil {
		errs = append(errs, fmt.Errorf("remove cluster directory: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	return nil
}

// StopServer stops the server with the given pg_ctl shutdown mode ("fast", "immediate" or
// "smart") and keeps the data directory, so StartServer can bring it back. "smart" waits for
// clients to disconnect, up to a minute. Stopping a stopped server is a no-op.
func (c *Cluster) StopServer(mode string) error {
	switch mode {
	case "fast", "immediate", "smart":
	default:
		return fmt.Errorf("stop server: mode %q, want fast, immediate or smart", mode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return errors.New("stop server: cluster already removed by Stop")
	}
	if !c.running {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
	defer cancel()
	if err := c.run(ctx, "pg_ctl", "stop", "-D", c.DataDir, "-m", mode, "-w", "-t", "60"); err != nil {
		return fmt.Errorf("stop server: %w", err)
	}
	c.running = false
	return nil
}

// StartServer starts the server again after StopServer, on the same port. Starting a running
// server is a no-op.
func (c *Cluster) StartServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return errors.New("start server: cluster already removed by Stop")
	}
	if c.running {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), serverTimeout)
	defer cancel()
	if err := c.startServer(ctx); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	return nil
}

// String describes the cluster without its password.
func (c *Cluster) String() string {
	return fmt.Sprintf("PostgreSQL %d at %s (data %s)", c.Version, c.Addr(), c.DataDir)
}

// GoString is String, so %#v does not print the password either.
func (c *Cluster) GoString() string { return c.String() }

// LogValue describes the cluster for log/slog without its password.
func (c *Cluster) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", c.Addr()), slog.String("data_dir", c.DataDir),
		slog.Int("version", c.Version))
}

func (c *Cluster) log(format string, args ...any) {
	if c.logf != nil {
		c.logf(format, args...)
	}
}

// mkdirOwned creates dir with mode 0700 for the server user.
func (c *Cluster) mkdirOwned(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return c.owner.chown(dir)
}

// writeOwned writes a private file the server user can read. Truncating an existing file
// keeps its owner.
func (c *Cluster) writeOwned(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	return c.owner.chown(path)
}

// quoteSetting quotes a postgresql.conf string value.
func quoteSetting(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
