// Package soak holds T38 of the reliability plan, the daemon soak: `pgsnap run`, the real
// binary, on a one-minute schedule under write load, watched for missed or doubled slots,
// snapshots that do not verify, orphans, and memory, descriptors and goroutines that grow. It
// is a package of its own so that its minutes count against a test timeout of their own and
// pass beside other packages' tests. `make soak` runs it for 30 minutes (PGSNAP_SOAK=30m);
// `make test` runs the same test for three slots.
package soak
