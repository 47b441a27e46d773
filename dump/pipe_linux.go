package dump

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"
)

// pipeSize is the pipe buffer asked for pg_dump's output (the default maximum unprivileged
// processes may set): pg_dump writes ahead while pgsnap compresses, and both make 16 times
// fewer system calls than with the default 64 KiB.
const pipeSize = 1 << 20

// growPipe enlarges the pipe behind r, best effort: the default size works, only slower.
func growPipe(r io.Reader) {
	sc, ok := r.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
}
