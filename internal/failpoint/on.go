//go:build failpoints

// Package failpoint marks named places where crash and fault tests strike. They are compiled in
// only with -tags failpoints and armed by PGSNAP_FAILPOINT; release builds carry none.
package failpoint

import (
	"os"
	"strings"
	"sync"
	"syscall"
)

// Hit strikes when PGSNAP_FAILPOINT is name or name:action. The actions:
//
//	kill     SIGKILL this process: a crash at exactly this step.
//	remove   remove the file args[0] names, once per process: a sweep in the instant the
//	         failpoint marks.
//	corrupt  flip one byte in the middle of the file args[0] names (a string path, or a
//	         store with Path(key) and the key in args[1]), as storage that corrupts what it
//	         was given would. It is the default of after-data-commit.
//
// The places are named in docs/reliability.md.
func Hit(name string, args ...any) {
	want, action, _ := strings.Cut(os.Getenv("PGSNAP_FAILPOINT"), ":")
	if want != name {
		return
	}
	if action == "" && name == "after-data-commit" {
		action = "corrupt"
	}
	switch action {
	case "kill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	case "corrupt":
		corrupt(args)
	case "remove":
		removeOnce.Do(func() { os.Remove(args[0].(string)) })
	}
}

var removeOnce sync.Once

func corrupt(args []any) {
	var path string
	switch a := args[0].(type) {
	case string:
		path = a
	case interface{ Path(string) (string, error) }:
		p, err := a.Path(args[1].(string))
		if err != nil {
			return
		}
		path = p
	default:
		return
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return
	}
	b[len(b)/2] ^= 0x01
	os.WriteFile(path, b, 0o600)
}
