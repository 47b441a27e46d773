package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMeasurePipeline runs small pipelines of standard Unix programs (no database).
func TestMeasurePipeline(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	script := func(s string) stage { return stage{bin: sh, args: []string{"-c", s}} }
	tests := []struct {
		name               string
		producer, consumer stage
		wantOut, wantErr   string
	}{
		{"bytes flow from one to the other", script("printf 'hello pipe'"), script("tr a-z A-Z"), "HELLO PIPE", ""},
		{"the consumer sees EOF", script("printf 'a\\nb\\nc\\n'"), script("wc -l | tr -d ' '"), "3\n", ""},
		{"a failing producer is reported", script("echo boom >&2; exit 3"), script("cat"), "", "sh: exit status 3: boom"},
		{"a failing consumer is reported, not the broken pipe it causes", script("yes"), script("head -c 1 >/dev/null; echo bad >&2; exit 4"),
			"", "sh: exit status 4: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			m, err := measurePipeline(context.Background(), os.Environ(), "", out, tt.producer, tt.consumer)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr {
				t.Fatalf("measurePipeline error = %q, want %q", gotErr, tt.wantErr)
			}
			if err != nil {
				return
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.wantOut {
				t.Errorf("output = %q, want %q", b, tt.wantOut)
			}
			if m.wall <= 0 || m.maxRSS <= 0 {
				t.Errorf("pipeMeasured = %+v, want a wall time and a peak RSS", m)
			}
		})
	}
}
