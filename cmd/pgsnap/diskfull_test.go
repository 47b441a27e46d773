package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// storeTmpfsSize is the size of a store tmpfs with room to spare.
const storeTmpfsSize = 64 << 20

// mountStoreTmpfs mounts a tmpfs of storeTmpfsSize bytes for a store and unmounts it at cleanup.
// The caller has called invariants.RequireRoot.
func mountStoreTmpfs(t *testing.T) string {
	t.Helper()
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", storeTmpfsSize)); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", mnt, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

// resizeTmpfs changes a tmpfs's size (remount,size=), rounded up to whole pages.
func resizeTmpfs(t *testing.T, mnt string, size int64) {
	t.Helper()
	page := int64(unix.Getpagesize())
	size = (size + page - 1) / page * page
	if err := unix.Mount("tmpfs", mnt, "tmpfs", unix.MS_REMOUNT, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("remount %s with size=%d: %v", mnt, size, err)
	}
}

// tmpfsSpace returns the used and free bytes of the file system holding dir.
func tmpfsSpace(t *testing.T, dir string) (used, free int64) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize, int64(st.Bfree) * st.Bsize
}

// leaveRoomForHalf shrinks the tmpfs at mnt so that about half of a data object of size bytes
// fits, and returns the free bytes it leaves.
func leaveRoomForHalf(t *testing.T, mnt string, size int64) int64 {
	t.Helper()
	used, _ := tmpfsSpace(t, mnt)
	resizeTmpfs(t, mnt, used+size/2)
	_, free := tmpfsSpace(t, mnt)
	return free
}

// T14: SNAPSHOT_DIR on a tmpfs holding two good snapshots with room for about half of the next
// one. The snapshot fails naming "no space left on device" and the path; its temporary file
// and intent go (free space back to what it was); retention does not run (SNAPSHOT_RETENTION=1
// would have deleted the older snapshot); both old snapshots are byte-identical. After the
// tmpfs is enlarged, the next run succeeds. (store/localstore's TestDiskFull checks the store
// alone; this is the whole command.)
func TestDiskFullKeepsOldSnapshots(t *testing.T) {
	invariants.Fault(t, "T14")
	invariants.RequireRoot(t)
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, `CREATE TABLE t AS
		SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 100000) g`); err != nil {
		t.Fatal(err)
	}
	mnt := mountStoreTmpfs(t)
	dir := filepath.Join(mnt, "snapshots")
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_RETENTION": "3"}
	for i := range 2 {
		if i > 0 {
			waitNextSecond()
		}
		if r := runPgsnap(t, env, "snapshot"); r.code != 0 {
			t.Fatalf("good snapshot %d: exit %d", i+1, r.code)
		}
	}
	snaps := listJSON(t, env)
	if len(snaps) != 2 {
		t.Fatalf("listed %d snapshots, want 2", len(snaps))
	}
	before := invariants.Snapshot(t, dir)
	freeBefore := leaveRoomForHalf(t, mnt, snaps[0].Size)

	waitNextSecond()
	env["SNAPSHOT_RETENTION"] = "1"
	r := runPgsnap(t, env, "snapshot")
	if r.code == 0 {
		t.Fatalf("snapshot with room for half of it: exit 0, want a failure")
	}
	if !strings.Contains(r.stderr, "no space left on device") || !strings.Contains(r.stderr, dir) {
		t.Errorf("stderr does not name \"no space left on device\" and %s:\n%s", dir, r.stderr)
	}
	_, freeAfter := tmpfsSpace(t, mnt)
	if freeAfter != freeBefore {
		t.Errorf("free bytes after the failed run %d, before it %d: the temporary file's space was not given back", freeAfter, freeBefore)
	}
	if diff := cmp.Diff(before, invariants.Snapshot(t, dir)); diff != "" {
		t.Errorf("store changed by the failed run (-before +after):\n%s", diff)
	}
	partials := 0
	for _, s := range listJSON(t, env) {
		if s.Name != snaps[0].Name && s.Name != snaps[1].Name {
			partials++
			t.Errorf("listed %s after the failed run, want only the 2 good snapshots", s.Name)
		}
	}
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, Cluster: c, Database: db, DirCreated: true, MinComplete: 2,
		Failure: fmt.Errorf("%s", r.stderr), FailureMentions: []string{"no space left on device", dir}})

	resizeTmpfs(t, mnt, storeTmpfsSize)
	env["SNAPSHOT_RETENTION"] = "3"
	next := runPgsnap(t, env, "snapshot")
	if next.code != 0 {
		t.Errorf("snapshot after the tmpfs grew: exit %d, want 0", next.code)
	}
	names := invariants.AssertStoreInvariants(t, dir, invariants.Options{Before: before, Cluster: c, Database: db, DirCreated: true, MinComplete: 3})
	invariants.Report(t, "T14 disk full: old snapshots intact %d/2, free bytes restored %v (%d), listed partials %d, next run ok %v",
		intact(t, dir, before), freeAfter == freeBefore, freeAfter, partials, next.code == 0 && len(names) == 3)
}

// intact counts the snapshots among before whose files are all unchanged.
func intact(t *testing.T, dir string, before map[string]string) int {
	t.Helper()
	now := invariants.Snapshot(t, dir)
	broken := map[string]bool{}
	names := map[string]bool{}
	for f, sum := range before {
		name := strings.SplitN(f, ".", 2)[0]
		names[name] = true
		if now[f] != sum {
			broken[name] = true
		}
	}
	return len(names) - len(broken)
}
