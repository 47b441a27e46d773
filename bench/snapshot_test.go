package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTreeSize(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"toc.dat": "12345", "sub/3001.dat": "123"} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := treeSize(dir); err != nil || got != 8 {
		t.Errorf("treeSize(dir) = %d, %v, want 8", got, err)
	}
	if got, err := treeSize(filepath.Join(dir, "toc.dat")); err != nil || got != 5 {
		t.Errorf("treeSize(file) = %d, %v, want 5", got, err)
	}
	if _, err := treeSize(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("treeSize(missing) error = %v, want no such file", err)
	}
}
