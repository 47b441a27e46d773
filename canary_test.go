package pgsnap_test

import (
	"html"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgsnap/pgsnap"
)

// A table that lost 60 % of its rows between two snapshots shows on the daemon's own surfaces:
// pgsnap_table_shrink_events_total counts it, the status page names it with both counts, and
// the snapshot from before the loss is pinned. A table below SNAPSHOT_SHRINK_MIN_ROWS that lost
// as much raises nothing.
func TestShrinkShowsInMetricsAndStatusPage(t *testing.T) {
	f := newFixture(t, `CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 30000) g;
		CREATE TABLE tiny AS SELECT g AS id FROM generate_series(1, 500) g`)
	reg := prometheus.NewRegistry()
	s := f.scheduler(t, f.config(f.c.URL(f.db)), pgsnap.WithMetrics(reg))
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	before, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	metric := `pgsnap_table_shrink_events_total{target="` + s.Target() + `"} `
	if _, m := get(t, srv, "/metrics"); !strings.Contains(m, metric+"0") {
		t.Errorf("/metrics before any shrink lacks %s0", metric)
	}
	if err := f.c.Exec(t.Context(), f.db, "DELETE FROM orders WHERE id % 10 < 6; DELETE FROM tiny WHERE id % 10 < 6"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // snapshot names have one-second resolution
	after, err := s.SnapshotNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, m := get(t, srv, "/metrics"); !strings.Contains(m, metric+"1") {
		t.Errorf("/metrics after one table shrank (and one below the row threshold) lacks %s1", metric)
	}
	_, page := get(t, srv, "/")
	page = html.UnescapeString(page)
	for _, want := range []string{"Tables that shrank", "orders", "30000 rows in <code>" + before.Name, "12000 in <code>" + after.Name} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(page, "tiny") {
		t.Error("status page names tiny, a table below SNAPSHOT_SHRINK_MIN_ROWS")
	}
	snaps, err := s.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pinned := false
	for _, sn := range snaps {
		pinned = pinned || sn.Name == before.Name && sn.Pinned
	}
	if !pinned {
		t.Errorf("%s, the snapshot from before the loss, is not listed pinned", before.Name)
	}
}
