package dump

import "syscall"

// sysProcAttr puts the child in its own process group, so that one kill reaches everything it
// started, and has the kernel kill it if the thread that started it dies (pgsnap killed with
// SIGKILL). Pdeathsig follows the OS thread, not the process: children must not be started
// from a goroutine that locked its thread and may exit; dump never locks threads.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
