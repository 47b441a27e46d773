package pgsnap

import (
	"errors"
	"fmt"
	"testing"

	"github.com/pgsnap/pgsnap/internal/writer"
)

// failureReason takes the writer's cause, and sorts the catalog's unsorted errors, which name
// their destination's setting, as storage.
func TestFailureReason(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&writer.CauseError{Cause: writer.CauseAuth, Err: errors.New("x")}, "auth"},
		{fmt.Errorf("lock: %w", &writer.TimeoutError{}), "timeout"},
		{errors.New("SNAPSHOT_DIR: list /snapshots: input/output error"), "storage"},
		{errors.New("store memory: gone"), "storage"},
		{errors.New("lock: held"), "other"},
	}
	for _, tc := range cases {
		if got := failureReason(tc.err); got != tc.want {
			t.Errorf("failureReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
