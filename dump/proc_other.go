//go:build !linux

package dump

import "syscall"

// sysProcAttr puts the child in its own process group. Without Linux's Pdeathsig a child
// outlives a pgsnap killed with SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
