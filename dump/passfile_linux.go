package dump

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// memfdFile returns an anonymous in-memory file holding content, mode 0600 and sealed against
// changes. It is close-on-exec: only a child that gets it in ExtraFiles sees it.
func memfdFile(content []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("pgsnap-pgpass", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "pgsnap-pgpass")
	// A memfd starts as 0777; libpq ignores a passfile with group or other permissions.
	if err := f.Chmod(0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("chmod memfd: %w", err), f.Close())
	}
	if _, err := f.Write(content); err != nil {
		return nil, errors.Join(fmt.Errorf("write memfd: %w", err), f.Close())
	}
	// Sealing is defence in depth (the child cannot change it); kernels without it still work.
	_, _ = unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE)
	return f, nil
}
