package pgtest_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// seedSQL builds one of each kind of content Fingerprint covers. The large object has a fixed
// OID because a restore keeps OIDs, so equal databases have equal ones.
const seedSQL = `
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Mixed Case" (id int PRIMARY KEY, r text, at timestamptz, f float8, b bytea);
INSERT INTO "Odd Schema"."Mixed Case" VALUES
	(1, 'one', '2024-01-02 03:04:05+00', 0.1, '\x00ff'),
	(2, NULL, NULL, NULL, NULL),
	(3, 'tab	and
newline', '1999-12-31 23:59:59+05', -1e300, '');
CREATE TABLE events (id bigserial, day date NOT NULL, note text) PARTITION BY RANGE (day);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO events (day, note) VALUES ('2024-05-01', 'a'), ('2025-05-01', 'b'), ('2025-06-01', 'c');
CREATE TABLE empty (id int);
CREATE MATERIALIZED VIEW event_counts AS SELECT day, count(*) AS n FROM events GROUP BY day;
CREATE MATERIALIZED VIEW never_refreshed AS SELECT 1 AS one WITH NO DATA;
CREATE SEQUENCE counter START 40;
SELECT nextval('counter'), nextval('counter');
SELECT lo_from_bytea(424242, 'large object bytes');
`

func seededDB(t *testing.T, c *pgtest.Cluster) string {
	t.Helper()
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, seedSQL); err != nil {
		t.Fatalf("seed %s: %v", db, err)
	}
	return db
}

func fingerprint(t *testing.T, c *pgtest.Cluster, db string) map[string]string {
	t.Helper()
	conn, err := c.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	fp, err := pgtest.Fingerprint(t.Context(), conn)
	if err != nil {
		t.Fatalf("Fingerprint(%s) = %v", db, err)
	}
	return fp
}

func TestFingerprintCoversContent(t *testing.T) {
	c := pgtest.Get(t)
	fp := fingerprint(t, c, seededDB(t, c))

	want := map[string]bool{
		`"Odd Schema"."Mixed Case"`:  true,
		`"public"."events_2024"`:     true,
		`"public"."events_2025"`:     true,
		`"public"."empty"`:           true,
		`"public"."event_counts"`:    true,
		`"public"."never_refreshed"`: true,
		`"public"."counter"`:         true,
		`"public"."events_id_seq"`:   true,
		`lo:424242`:                  true,
	}
	got := map[string]bool{}
	for k := range fp {
		got[k] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Fingerprint keys (-want +got):\n%s", diff)
	}
	for key, value := range map[string]string{
		`"public"."events_2025"`:     "rows=2 md5=",
		`"public"."empty"`:           "rows=0 md5=d41d8cd98f00b204e9800998ecf8427e",
		`"public"."never_refreshed"`: "unpopulated",
		`"public"."counter"`:         "last_value=41 is_called=true",
	} {
		if got := fp[key]; len(got) < len(value) || got[:len(value)] != value {
			t.Errorf("Fingerprint[%s] = %q, want prefix %q", key, got, value)
		}
	}
	if got := fp["lo:424242"]; len(got) != 32 {
		t.Errorf("Fingerprint[lo:424242] = %q, want an md5 hex digest", got)
	}
}

func TestFingerprintEqualForSameContent(t *testing.T) {
	c := pgtest.Get(t)
	a := fingerprint(t, c, seededDB(t, c))
	b := fingerprint(t, c, seededDB(t, c))
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("Fingerprint of two databases built alike differs (-first +second):\n%s", diff)
	}
}

func TestFingerprintDetectsChange(t *testing.T) {
	c := pgtest.Get(t)
	base := fingerprint(t, c, seededDB(t, c))

	tests := []struct {
		name   string
		change string
		key    string // the only entry that must differ
	}{
		{"changed row", `UPDATE "Odd Schema"."Mixed Case" SET r = 'uno' WHERE id = 1`, `"Odd Schema"."Mixed Case"`},
		{"changed null to empty", `UPDATE "Odd Schema"."Mixed Case" SET r = '' WHERE id = 2`, `"Odd Schema"."Mixed Case"`},
		{"added row", `INSERT INTO empty VALUES (1)`, `"public"."empty"`},
		{"added row in partition", `INSERT INTO events (id, day) VALUES (100, '2024-07-01')`, `"public"."events_2024"`},
		{"deleted row", `DELETE FROM events_2025 WHERE note = 'c'`, `"public"."events_2025"`},
		{"changed large object", `SELECT lo_put(424242, 0, 'L')`, `lo:424242`},
		{"advanced sequence", `SELECT nextval('counter')`, `"public"."counter"`},
		{"refreshed view", `REFRESH MATERIALIZED VIEW never_refreshed`, `"public"."never_refreshed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := seededDB(t, c)
			if err := c.Exec(t.Context(), db, tt.change); err != nil {
				t.Fatal(err)
			}
			got := fingerprint(t, c, db)
			for key, before := range base {
				if changed := got[key] != before; changed != (key == tt.key) {
					t.Errorf("after %s: Fingerprint[%s] = %q, was %q; want changed = %v", tt.change, key, got[key], before, key == tt.key)
				}
			}
			if len(got) != len(base) {
				t.Errorf("after %s: Fingerprint has %d entries, want %d", tt.change, len(got), len(base))
			}
		})
	}
}
