package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// delivery is one webhook request a test receiver got.
type delivery struct {
	event, timestamp, signature string
	body                        []byte
}

// webhookReceiver is a real HTTP server that records every delivery.
func webhookReceiver(t *testing.T) (*httptest.Server, func() []delivery) {
	t.Helper()
	var mu sync.Mutex
	var got []delivery
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, delivery{r.Header.Get("X-Pgsnap-Event"), r.Header.Get("X-Pgsnap-Timestamp"), r.Header.Get("X-Pgsnap-Signature"), b})
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []delivery {
		mu.Lock()
		defer mu.Unlock()
		return append([]delivery(nil), got...)
	}
}

// The data-loss canary: 60 % of a 30,000-row table deleted between two snapshots raises a
// signed shrink event at a real receiver, and pins the snapshot from before the loss, with its
// reason, so retention can never rotate it away; a small table that emptied raises nothing.
func TestShrinkAlertPinsTheSnapshotBeforeTheLoss(t *testing.T) {
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, `CREATE TABLE orders AS SELECT g AS id, 'order ' || g AS note FROM generate_series(1, 30000) g;
		CREATE TABLE tiny AS SELECT g FROM generate_series(1, 500) g`); err != nil {
		t.Fatal(err)
	}
	srv, deliveries := webhookReceiver(t)
	const secret = "canary-signing-secret"
	dir := filepath.Join(t.TempDir(), "snapshots")
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_RETENTION": "1",
		"SNAPSHOT_WEBHOOK_URL": srv.URL, "SNAPSHOT_WEBHOOK_SECRET": secret}
	r := runPgsnap(t, env, "snapshot")
	if r.code != 0 {
		t.Fatalf("first snapshot: exit %d", r.code)
	}
	before := lastLine(r.stdout)
	if err := c.Exec(t.Context(), db, "DELETE FROM orders WHERE id % 5 < 3; DELETE FROM tiny"); err != nil {
		t.Fatal(err)
	}
	waitNextSecond()
	r = runPgsnap(t, env, "snapshot")
	if r.code != 0 {
		t.Fatalf("second snapshot: exit %d", r.code)
	}
	after := lastLine(r.stdout)
	if !strings.Contains(r.stderr, "table shrank") || !strings.Contains(r.stderr, "orders") || !strings.Contains(r.stderr, "rows_after=12000") {
		t.Errorf("no WARN line naming the table:\n%s", r.stderr)
	}

	var shrink *delivery
	for _, d := range deliveries() {
		if d.event == "shrink" {
			shrink = &d
		}
	}
	if shrink == nil {
		t.Fatalf("no shrink event delivered; got %d deliveries", len(deliveries()))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(shrink.timestamp + "." + string(shrink.body)))
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); shrink.signature != want {
		t.Errorf("shrink event signature %q, want %q", shrink.signature, want)
	}
	var ev struct {
		Kind       string `json:"kind"`
		Table      string `json:"table"`
		RowsBefore int64  `json:"rows_before"`
		RowsAfter  int64  `json:"rows_after"`
		Snapshot   string `json:"snapshot"`
		Previous   string `json:"previous"`
	}
	if err := json.Unmarshal(shrink.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Table != `"public"."orders"` || ev.RowsBefore != 30000 || ev.RowsAfter != 12000 || ev.Snapshot != after || ev.Previous != before {
		t.Errorf("shrink event = %+v, want orders 30000 -> 12000 between %s and %s", ev, before, after)
	}
	for _, d := range deliveries() {
		if d.event == "shrink" && strings.Contains(string(d.body), "tiny") {
			t.Errorf("a table below SNAPSHOT_SHRINK_MIN_ROWS raised a shrink event: %s", d.body)
		}
	}

	// SNAPSHOT_RETENTION=1 would have deleted it: pinned, it stays, with its reason.
	var snaps []struct {
		Name      string `json:"name"`
		Pinned    bool   `json:"pinned"`
		PinReason string `json:"pin_reason"`
	}
	r = runPgsnap(t, env, "list", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &snaps); err != nil {
		t.Fatalf("list --json: %v", err)
	}
	found := false
	for _, s := range snaps {
		if s.Name == before {
			found = true
			if !s.Pinned || !strings.Contains(s.PinReason, "orders") {
				t.Errorf("%s listed pinned=%v reason %q, want pinned for the shrink of orders", before, s.Pinned, s.PinReason)
			}
		}
	}
	if !found {
		t.Fatalf("the snapshot from before the loss, %s, was pruned: listed %+v", before, snaps)
	}
	// diff shows the change: the table's rows in both snapshots.
	r = runPgsnap(t, env, "diff", before, after)
	if r.code != 0 || !strings.Contains(r.stdout, "orders") || !strings.Contains(r.stdout, "30000") || !strings.Contains(r.stdout, "12000") {
		t.Errorf("diff %s %s: exit %d, want orders 30000 -> 12000:\n%s", before, after, r.code, r.stdout)
	}
	if r := runPgsnap(t, env, "unpin", before); r.code != 0 {
		t.Errorf("unpin: exit %d", r.code)
	}
}
