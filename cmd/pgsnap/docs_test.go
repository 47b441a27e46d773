package main

import (
	"os"
	"strings"
	"testing"

	"github.com/pgsnap/pgsnap"
)

// The README's settings table names every setting, with its flag.
func TestReadmeListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, s := range append(pgsnap.Settings(), cliSettings...) {
		row := "| `" + s.Env + "` | `--" + s.Flag + "` |"
		if s.Flag == "" {
			row = "| `" + s.Env + "` | – |"
		}
		if !strings.Contains(readme, row) {
			t.Errorf("README settings table has no row starting %s", row)
		}
	}
}
