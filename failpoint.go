//go:build !failpoints

package pgsnap

// failpoint is a named place where fault tests built with -tags failpoints strike; release
// builds carry none (see failpoint_on.go).
func failpoint(string, ...any) {}
