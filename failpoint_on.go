//go:build failpoints

package pgsnap

import (
	"os"
)

// failpoint strikes when PGSNAP_FAILPOINT names it. Built only with -tags failpoints.
//
//	after-data-commit: flips one byte of the committed data object (args: store, key), as
//	storage that corrupts what it was given would.
func failpoint(name string, args ...any) {
	if os.Getenv("PGSNAP_FAILPOINT") != name {
		return
	}
	switch name {
	case "after-data-commit":
		fp, ok := args[0].(filePather)
		if !ok {
			return
		}
		path, err := fp.Path(args[1].(string))
		if err != nil {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil || len(b) == 0 {
			return
		}
		b[len(b)/2] ^= 0x01
		os.WriteFile(path, b, 0o600)
	}
}
