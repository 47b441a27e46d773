package retention

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current KeepLast and Apply")

// goldenCase is the JSON input format of testdata/*.json. Item carries no
// JSON tags (it is API, not a file format), so the test owns this shape.
type goldenCase struct {
	Comment string `json:"comment"`
	N       int    `json:"n"`
	Items   []struct {
		Name string    `json:"name"`
		Time time.Time `json:"time"`
	} `json:"items"`
}

// TestKeepLastGolden runs KeepLast on every testdata/NAME.json and compares
// a readable table of the decisions with testdata/NAME.golden. Run with
// -update after an intended change and review the diff.
func TestKeepLastGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatalf("glob testdata: %v", err)
	}
	if len(inputs) == 0 {
		t.Fatal("no testdata/*.json inputs found")
	}
	for _, input := range inputs {
		name := strings.TrimSuffix(filepath.Base(input), ".json")
		t.Run(name, func(t *testing.T) {
			got := renderGolden(t, input)
			golden := strings.TrimSuffix(input, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatalf("update golden file: %v", err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("KeepLast(%s) mismatch with %s (-want +got):\n%s", input, golden, diff)
			}
		})
	}
}

func renderGolden(t *testing.T, input string) []byte {
	t.Helper()
	raw, err := os.ReadFile(input)
	if err != nil {
		t.Fatalf("read input: %v", err)
	}
	var c goldenCase
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode %s: %v", input, err)
	}
	items := make([]Item, len(c.Items))
	for i, it := range c.Items {
		items[i] = Item{Name: it.Name, Time: it.Time}
	}

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# %s\n", c.Comment)
	fmt.Fprintf(&buf, "KeepLast(%d items, n=%d)\n", len(items), c.N)
	decisions, err := KeepLast(items, c.N)
	if err != nil {
		fmt.Fprintf(&buf, "error: %v\n", err)
		return buf.Bytes()
	}
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, d := range decisions {
		verdict := "drop"
		if d.Keep {
			verdict = "keep"
		}
		// The time as given, to show that zones do not change the order,
		// and as UTC, which is what the order follows.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", verdict, d.Name,
			d.Time.Format(time.RFC3339Nano), d.Time.UTC().Format(time.RFC3339Nano), d.Reason)
	}
	if err := tw.Flush(); err != nil {
		t.Fatalf("render table: %v", err)
	}
	return buf.Bytes()
}
