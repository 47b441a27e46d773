package pgsnap

import "runtime/debug"

// version is set at build time with -ldflags "-X github.com/pgsnap/pgsnap.version=v1.2.3".
var version = ""

// Version returns pgsnap's version: the one set at build time, else the module version, else
// "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
