package restore

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// spareBytes is kept free beyond what a decoded archive needs.
const spareBytes = 64 << 20

// checkFreeSpace fails when dir (the OS temp dir when empty) has less than need bytes free,
// naming SNAPSHOT_TMPDIR.
func checkFreeSpace(dir string, need int64) error {
	if dir == "" {
		dir = os.TempDir()
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("SNAPSHOT_TMPDIR %s: %w", dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free < need+spareBytes {
		return fmt.Errorf("SNAPSHOT_TMPDIR %s has %d MiB free; restoring this snapshot needs %d MiB there: point SNAPSHOT_TMPDIR at a larger file system",
			dir, free>>20, (need+spareBytes)>>20)
	}
	return nil
}
