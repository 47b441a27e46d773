package pgtest_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Main(m)
}

func TestClusterReachableOverTCP(t *testing.T) {
	c := pgtest.Get(t)
	ctx := t.Context()

	conn, err := c.Connect(ctx, "postgres")
	if err != nil {
		t.Fatalf("Connect(postgres) = %v, want a connection", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var user, addr string
	var port int
	if err := conn.QueryRow(ctx, "SELECT current_user, host(inet_server_addr()), inet_server_port()").Scan(&user, &addr, &port); err != nil {
		t.Fatal(err)
	}
	if user != c.User || addr != c.Host || port != c.Port {
		t.Errorf("server sees user %s at %s:%d, want %s at %s", user, addr, port, c.User, c.Addr())
	}
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int / 10000").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != c.Version {
		t.Errorf("server_version_num major = %d, want Cluster.Version %d", version, c.Version)
	}
}

func TestClusterRejectsWrongPassword(t *testing.T) {
	c := pgtest.Get(t)
	u, err := url.Parse(c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(c.User, c.Password+"x")
	conn, err := pgx.Connect(t.Context(), u.String())
	if err == nil {
		conn.Close(t.Context())
		t.Fatal("pgx.Connect with a wrong password succeeded, want an authentication error")
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Errorf("pgx.Connect with a wrong password = %v, want SQLSTATE 28P01 (invalid_password)", err)
	}
	if strings.Contains(err.Error(), c.Password) {
		t.Error("connect error contains the password")
	}
}

func TestURLEncodesPassword(t *testing.T) {
	c := &pgtest.Cluster{Host: "127.0.0.1", Port: 5433, User: "postgres", Password: "p@ss/w:rd?#%"}
	got := c.URL("my db")
	want := "postgres://postgres:p%40ss%2Fw%3Ard%3F%23%25@127.0.0.1:5433/my%20db?sslmode=disable"
	if got != want {
		t.Errorf("URL(%q) = %s, want %s", "my db", got, want)
	}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "p@ss") {
			t.Errorf("String/GoString = %q, want no password", s)
		}
	}
}

func TestCreateDBDroppedAfterCleanup(t *testing.T) {
	c := pgtest.Get(t)
	var name string
	t.Run("create", func(t *testing.T) {
		name = c.CreateDB(t)
		if !strings.HasPrefix(name, "t_") {
			t.Errorf("CreateDB() = %q, want a name starting with t_", name)
		}
		if got := databaseExists(t, c, name); !got {
			t.Errorf("database %s exists = %v after CreateDB, want true", name, got)
		}
		if err := c.Exec(t.Context(), name, "CREATE TABLE t (id int)"); err != nil {
			t.Errorf("Exec in new database: %v", err)
		}
	})
	if got := databaseExists(t, c, name); got {
		t.Errorf("database %s exists = %v after the subtest's cleanup, want false", name, got)
	}
}

func databaseExists(t *testing.T, c *pgtest.Cluster, name string) bool {
	t.Helper()
	conn, err := c.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	var exists bool
	if err := conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestStopServerStartServer(t *testing.T) {
	c := pgtest.StartOwn(t)
	ctx := t.Context()
	if err := c.Exec(ctx, "postgres", "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	port := c.Port
	for _, mode := range []string{"fast", "immediate", "smart"} {
		t.Run(mode, func(t *testing.T) {
			if err := c.StopServer(mode); err != nil {
				t.Fatalf("StopServer(%q) = %v, want nil", mode, err)
			}
			if err := c.Exec(ctx, "postgres", "SELECT 1"); err == nil {
				t.Fatalf("Exec while stopped = nil, want a connection error")
			}
			if err := c.StartServer(); err != nil {
				t.Fatalf("StartServer() after StopServer(%q) = %v, want nil", mode, err)
			}
			if c.Port != port {
				t.Errorf("Port after restart = %d, want %d", c.Port, port)
			}
			conn, err := c.Connect(ctx, "postgres")
			if err != nil {
				t.Fatalf("Connect after restart: %v", err)
			}
			defer conn.Close(context.WithoutCancel(ctx))
			var v string
			if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "before" {
				t.Errorf("SELECT v FROM kept = %q, %v; want %q, nil", v, err, "before")
			}
		})
	}

	if err := c.Stop(); err != nil {
		t.Fatalf("Stop() = %v, want nil", err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop() = %v, want nil (idempotent)", err)
	}
	if _, err := os.Stat(c.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat(DataDir) after Stop = %v, want not exist", err)
	}
	if err := c.StartServer(); err == nil {
		t.Error("StartServer() after Stop = nil, want an error")
	}
}

func TestStopServerRejectsUnknownMode(t *testing.T) {
	// No server is needed: the mode is checked first.
	var c pgtest.Cluster
	if err := c.StopServer("graceful"); err == nil {
		t.Error(`StopServer("graceful") = nil, want an error`)
	}
}

func TestThrottlePassesDataIntact(t *testing.T) {
	c := pgtest.Get(t)
	const size = 3 << 20
	t.Run("select", func(t *testing.T) {
		proxy := pgtest.Throttle(t, c.Addr(), 16<<20)
		u, err := url.Parse(c.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		u.Host = proxy
		ctx := t.Context()
		conn, err := pgx.Connect(ctx, u.String())
		if err != nil {
			t.Fatalf("connect through Throttle: %v", err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var got string
		if err := conn.QueryRow(ctx, "SELECT repeat('x', $1) || 'end'", size).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := strings.Repeat("x", size) + "end"; got != want {
			t.Errorf("SELECT through Throttle: got %d bytes, want %d bytes of x then end", len(got), len(want))
		}
		// Left open on purpose: Cleanup must close connections it still carries.
		if _, err := pgx.Connect(ctx, u.String()); err != nil {
			t.Fatalf("second connect through Throttle: %v", err)
		}
	})
	// The subtest's cleanup has run and waited for the proxy: none of its goroutines may be left.
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "pgtest.(*proxy)") {
		t.Errorf("proxy goroutines left after Throttle's cleanup:\n%s", stacks)
	}
}
