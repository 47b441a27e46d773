package localstore

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames tmp to final unless final exists, in which case it returns an error
// wrapping fs.ErrExist and leaves both names alone. renameat2(RENAME_NOREPLACE) does it in one
// step; file systems without the flag answer EINVAL (or ENOSYS from old kernels), and there a
// hard link, which also refuses an existing name, stands in for it.
func renameNoReplace(tmp, final string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return linkNoReplace(tmp, final)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: final, Err: err}
	}
	return nil
}
