package export

import "testing"

// SetVerifyFloor lowers the rest of an archive an export always reads, for the tests of
// package export_test; it is put back when t ends.
func SetVerifyFloor(t *testing.T, n int64) {
	old := verifyFloor
	verifyFloor = n
	t.Cleanup(func() { verifyFloor = old })
}

func TestReadRest(t *testing.T) {
	for _, tc := range []struct {
		size, end int64
		want      bool
	}{
		{0, 100, true},                // size unknown: read on
		{200 << 20, 100 << 20, true},  // the rest is what was read: at most double
		{300 << 20, 100 << 20, false}, // the rest is twice what was read
		{(64 << 20) + 10, 10, true},   // the rest is under the floor
		{(64 << 20) + 11, 10, false},  // just over it
		{1 << 30, 1 << 30, true},      // the table ends the archive
	} {
		if got := readRest(tc.size, tc.end); got != tc.want {
			t.Errorf("readRest(%d, %d) = %t, want %t", tc.size, tc.end, got, tc.want)
		}
	}
}
