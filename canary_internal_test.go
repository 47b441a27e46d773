package pgsnap

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A table counts as shrunk when it lost more than the alert's share of its rows (exactly the
// share is not more), or vanished; tables below the minimum in the earlier snapshot never do.
func TestShrinks(t *testing.T) {
	at := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	prev := Snapshot{Name: "app-1", Rows: map[string]int64{
		`"public"."half"`: 2000, `"public"."more"`: 2000, `"public"."gone"`: 5000, `"public"."small"`: 999, `"public"."grew"`: 1000, `"public"."zero"`: 0,
	}}
	snap := Snapshot{Name: "app-2", Rows: map[string]int64{
		`"public"."half"`: 1000, `"public"."more"`: 999, `"public"."small"`: 0, `"public"."grew"`: 5000, `"public"."zero"`: 0, `"public"."new"`: 7,
	}}
	got := shrinks(prev, snap, 50, 1000, at)
	want := []Shrink{
		{Table: `"public"."gone"`, Before: 5000, After: 0, Vanished: true, Previous: "app-1", Snapshot: "app-2", At: at},
		{Table: `"public"."more"`, Before: 2000, After: 999, Previous: "app-1", Snapshot: "app-2", At: at},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shrinks (-want +got):\n%s", diff)
	}
	if got := shrinks(prev, snap, 100, 0, at); len(got) != 1 || !got[0].Vanished {
		t.Errorf("shrinks at 100 %% = %+v, want only the vanished table", got)
	}
}
