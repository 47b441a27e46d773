//go:build failpoints

package localstore_test

import (
	"testing"

	"github.com/pgsnap/pgsnap/store/localstore"
)

// A Sweep that removes a writer's temporary file in the instant between its creation and its
// lock (the failpoint removes it there) costs the writer nothing: it notices its lock is on a
// file with no name and starts over. Run with: go test -tags failpoints -run Failpoint ./...
func TestFailpointSweptBeforeLock(t *testing.T) {
	t.Setenv("PGSNAP_FAILPOINT", "before-temp-lock:remove")
	s := localstore.New(t.TempDir())
	checkStore(t, s)
	put(t, s, "raced", "whole")
	assertContent(t, s, "raced", []byte("whole"))
	assertDirEntries(t, s.Dir(), []string{"raced"})
}
