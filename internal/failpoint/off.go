//go:build !failpoints

// Package failpoint marks named places where crash and fault tests strike. They are compiled in
// only with -tags failpoints and armed by PGSNAP_FAILPOINT; release builds carry none.
package failpoint

// Hit is a named place where fault tests built with -tags failpoints strike. Here it does
// nothing.
func Hit(string, ...any) {}
