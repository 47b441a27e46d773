package conninfo

import (
	"testing"
)

func TestPgxConfig(t *testing.T) {
	t.Setenv("PGPASSWORD", "from-env")
	t.Setenv("PGAPPNAME", "")
	for name, pw := range t30Passwords() {
		t.Run(name, func(t *testing.T) {
			i, err := Parse("postgres://alice:" + pctEncode(pw) + "@db.example:5433/app?sslmode=disable&application_name=x&keepalives=1&options=-c%20a%3Db")
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := i.PgxConfig()
			if err != nil {
				t.Fatalf("PgxConfig: %v", err)
			}
			if cfg.Host != "db.example" || cfg.Port != 5433 || cfg.Database != "app" || cfg.User != "alice" {
				t.Errorf("PgxConfig() = host %q port %d database %q user %q, want db.example 5433 app alice",
					cfg.Host, cfg.Port, cfg.Database, cfg.User)
			}
			if cfg.Password != pw {
				t.Errorf("PgxConfig().Password = %q, want %q", cfg.Password, pw)
			}
			if got := cfg.RuntimeParams["application_name"]; got != "x" {
				t.Errorf("PgxConfig() application_name = %q, want %q", got, "x")
			}
			if got := cfg.RuntimeParams["options"]; got != "-c a=b" {
				t.Errorf("PgxConfig() options = %q, want %q", got, "-c a=b")
			}
			if _, ok := cfg.RuntimeParams["keepalives"]; ok {
				t.Errorf("PgxConfig() passes the libpq-only keepalives to the server")
			}
		})
	}

	t.Run("no password uses the environment", func(t *testing.T) {
		i, err := Parse("host=h user=u dbname=d sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := i.PgxConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Password != "from-env" {
			t.Errorf("PgxConfig().Password = %q, want PGPASSWORD's %q", cfg.Password, "from-env")
		}
	})

	t.Run("hostaddr and fallback_application_name", func(t *testing.T) {
		i, err := Parse("hostaddr=127.0.0.2 fallback_application_name=fb sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := i.PgxConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Host != "127.0.0.2" || cfg.RuntimeParams["application_name"] != "fb" {
			t.Errorf("PgxConfig() = host %q application_name %q, want 127.0.0.2 fb", cfg.Host, cfg.RuntimeParams["application_name"])
		}
	})

	t.Run("error has no password", func(t *testing.T) {
		const pw = "hunter2-secret"
		i, err := Parse("host=h password=" + pw)
		if err != nil {
			t.Fatal(err)
		}
		// Parse refuses sslmode=bogus; With does not check, and pgx refuses it.
		_, err = i.With("sslmode", "bogus").PgxConfig()
		if err == nil {
			t.Fatal("PgxConfig() with sslmode=bogus succeeded, want an error")
		}
		checkNoSecret(t, "PgxConfig error", err.Error(), pw)
	})
}

// TestPgxConfigEveryKeyword checks that no libpq client keyword Parse accepts reaches the
// server as a run-time parameter, which the server would refuse at connect time.
func TestPgxConfigEveryKeyword(t *testing.T) {
	t.Setenv("PGSERVICEFILE", "")
	// The server takes these in the startup packet, from libpq as from pgx.
	serverParams := map[string]bool{"application_name": true, "options": true, "client_encoding": true, "replication": true}
	i := Info{}
	for key, value := range validSettings {
		switch key {
		case "service", "sslmode", "sslnegotiation", "sslcert", "sslkey", "sslrootcert", "sslpassword", "passfile":
			continue // pgx reads the files or the service at parse time; checked by TestPgxConfig
		}
		i = i.With(key, value)
	}
	cfg, err := i.With("sslmode", "disable").PgxConfig()
	if err != nil {
		t.Fatalf("PgxConfig with every keyword: %v", err)
	}
	for k := range cfg.RuntimeParams {
		if !serverParams[k] {
			t.Errorf("PgxConfig sends the client keyword %s to the server as a run-time parameter", k)
		}
	}
	if len(cfg.RuntimeParams) != len(serverParams) {
		t.Errorf("PgxConfig run-time parameters = %v, want %d of them", cfg.RuntimeParams, len(serverParams))
	}
}
