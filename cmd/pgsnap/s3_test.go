package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
	"github.com/pgsnap/pgsnap/internal/s3test"
)

// s3Env is the environment of a pgsnap that keeps snapshots in bucket on srv (and nowhere else).
func s3Env(srv *s3test.Server, bucket, prefix string) map[string]string {
	return map[string]string{
		"SNAPSHOT_S3_URL":              "s3://" + bucket + "/" + prefix,
		"SNAPSHOT_S3_ENDPOINT":         srv.Endpoint,
		"SNAPSHOT_S3_INSECURE":         "true",
		"SNAPSHOT_S3_FORCE_PATH_STYLE": "true",
		"SNAPSHOT_S3_REGION":           s3test.Region,
		"AWS_ACCESS_KEY_ID":            srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY":        srv.SecretKey,
	}
}

// With only SNAPSHOT_S3_URL set, S3 is the one destination: snapshot, list --json, verify
// --full, restore round trip identical data, and prune keeps the newest N in the bucket.
func TestS3RoundTrip(t *testing.T) {
	invariants.Fault(t, "T35")
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, `CREATE TABLE items (id int PRIMARY KEY, name text, doc jsonb);
		INSERT INTO items SELECT g, 'item ' || g || ' ✓', jsonb_build_object('g', g, 'pad', repeat(md5(g::text), 20)) FROM generate_series(1, 30000) g`); err != nil {
		t.Fatal(err)
	}
	env := s3Env(srv, bucket, "prod/app")
	env["DATABASE_URL"] = c.URL(db)
	env["SNAPSHOT_RETENTION"] = "2"
	env["SNAPSHOT_LABELS"] = "app=items,env=test"
	// SNAPSHOT_DIR unset: nothing may land in the default /snapshots.
	var names []string
	for i := range 3 {
		if i > 0 {
			waitNextSecond()
		}
		r := runPgsnap(t, env, "snapshot")
		if r.code != 0 {
			t.Fatalf("snapshot to S3: exit %d", r.code)
		}
		names = append(names, lastLine(r.stdout))
		if strings.Contains(r.stderr, srv.SecretKey) {
			t.Errorf("the S3 secret key appears in pgsnap's log")
		}
	}
	snaps := listJSON(t, env)
	if len(snaps) != 2 || snaps[0].Name != names[2] || snaps[1].Name != names[1] {
		t.Fatalf("list --json after 3 snapshots with retention 2 = %v, want %s and %s", snapNames(snaps), names[2], names[1])
	}
	if snaps[0].Labels["app"] != "items" {
		t.Errorf("labels = %v, want app=items", snaps[0].Labels)
	}
	objects := bucketKeys(t, srv, bucket)
	if want := 2 * 2; len(objects) != want || !strings.HasPrefix(objects[0], "prod/app/") {
		t.Errorf("bucket holds %v, want %d objects under prod/app/ (data and manifest of 2 snapshots)", objects, want)
	}
	if r := runPgsnap(t, env, "verify", "--all", "--full"); r.code != 0 {
		t.Errorf("verify --all --full against S3: exit %d", r.code)
	}
	if r := runPgsnap(t, env, "verify", "--drill", names[2]); r.code != 0 {
		t.Errorf("verify --drill against S3: exit %d", r.code)
	}
	for _, stream := range []bool{false, true} {
		restored := fmt.Sprintf("%s_s3_%t", db, stream)
		t.Cleanup(func() { c.DropDatabase(t.Context(), restored) })
		renv := s3Env(srv, bucket, "prod/app")
		renv["SNAPSHOT_RESTORE_URL"] = c.URL(restored)
		args := []string{"restore", "--label", "env=test"}
		if stream {
			args = append(args, "--stream")
		}
		if r := runPgsnap(t, renv, args...); r.code != 0 || lastLine(r.stdout) != names[2] {
			t.Fatalf("restore %v from S3: exit %d, restored %q; want %s", args, r.code, lastLine(r.stdout), names[2])
		}
		if want, got := c.FingerprintDB(t, db), c.FingerprintDB(t, restored); fmt.Sprint(want) != fmt.Sprint(got) {
			t.Errorf("restore %v: rows differ from the source", args)
		}
	}
	if up := srv.Uploads(t, bucket, "prod/app"); len(up) != 0 {
		t.Errorf("incomplete multipart uploads left: %v", up)
	}
}

// Both destinations set, and the S3 server killed in the middle of the upload: the local
// snapshot is committed and listed, the S3 copy is missing; once the server is back, pgsnap sync
// completes it and no incomplete multipart upload remains.
func TestS3DownMidUploadThenSync(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, `CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS payload FROM generate_series(1, 400000) g`); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	env := s3Env(srv, bucket, "app")
	env["DATABASE_URL"] = strings.Replace(c.URL(db), c.Addr(), pgtest.Throttle(t, c.Addr(), 4<<20), 1)
	env["SNAPSHOT_DIR"] = dir
	env["SNAPSHOT_COMPRESSION"] = "none" // big enough for several parts
	cmd, stdout, stderr := pgsnapCmd(t, env, "snapshot")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the server once the upload is under way (the local temporary file grows with it).
	if !invariants.WaitForTemp(t, dir, 20<<20, time.Minute) {
		t.Fatal("the snapshot never got under way")
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	code, _ := waitExit(t, cmd, time.Now(), 3*time.Minute)
	t.Logf("snapshot with S3 killed: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	if code != 0 {
		t.Fatalf("snapshot with the S3 server killed mid-upload: exit %d, want 0 (committed locally)", code)
	}
	name := lastLine(stdout.String())
	srv.Restart(t)
	snaps := listJSON(t, env)
	if len(snaps) != 1 || snaps[0].Name != name || len(snaps[0].Missing) != 1 || !strings.HasPrefix(snaps[0].Missing[0], "s3://") {
		t.Fatalf("list --json = %+v; want %s stored locally and missing from S3", snaps, name)
	}
	if r := runPgsnap(t, env, "list"); !strings.Contains(r.stdout, "incomplete") {
		t.Errorf("list does not show the snapshot as incomplete:\n%s", r.stdout)
	}
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, MinComplete: 1})

	if r := runPgsnap(t, env, "sync"); r.code != 0 || !strings.Contains(r.stdout, "copied  "+name) {
		t.Fatalf("sync: exit %d, stdout %q; want %s copied", r.code, r.stdout, name)
	}
	snaps = listJSON(t, env)
	if len(snaps) != 1 || len(snaps[0].Missing) != 0 || len(snaps[0].StoredIn) != 2 {
		t.Fatalf("list --json after sync = %+v; want the snapshot in both destinations", snaps)
	}
	// The upload cut when the server died could not be aborted then; once sync has committed
	// its key, the sweep after sync removes it.
	if up := srv.Uploads(t, bucket, "app"); len(up) != 0 {
		t.Errorf("incomplete multipart uploads after sync: %v", up)
	}
	// The S3 copy on its own restores.
	s3only := s3Env(srv, bucket, "app")
	if r := runPgsnap(t, s3only, "verify", name, "--full"); r.code != 0 {
		t.Errorf("verify --full of the synced S3 copy: exit %d", r.code)
	}
}

func snapNames(snaps []listed) []string {
	var out []string
	for _, s := range snaps {
		out = append(out, s.Name)
	}
	return out
}

// bucketKeys lists every object in bucket, sorted.
func bucketKeys(t *testing.T, srv *s3test.Server, bucket string) []string {
	t.Helper()
	out, err := exec.Command("find", filepath.Join(srv.Dir, bucket), "-type", "f", "-not", "-path", "*/.sgwtmp/*").Output()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, line := range strings.Fields(string(out)) {
		keys = append(keys, strings.TrimPrefix(line, filepath.Join(srv.Dir, bucket)+"/"))
	}
	return keys
}
