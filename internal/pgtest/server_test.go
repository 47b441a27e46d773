package pgtest

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// TestStartServerPortTaken checks what Start's retry relies on: a start that loses its port to
// another process is recognised as errPortInUse, and the error carries the server log tail.
func TestStartServerPortTaken(t *testing.T) {
	c := StartOwn(t)
	if err := c.StopServer("fast"); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", c.Addr())
	if err != nil {
		t.Fatalf("hold port %s: %v", c.Addr(), err)
	}
	defer ln.Close()

	err = c.StartServer()
	if !errors.Is(err, errPortInUse) {
		t.Fatalf("StartServer() with the port taken = %v, want errPortInUse", err)
	}
	if !strings.Contains(err.Error(), "server log tail") || !strings.Contains(err.Error(), "could not bind") {
		t.Errorf("StartServer() error = %v, want the server log tail with the bind failure", err)
	}
	if strings.Contains(err.Error(), c.Password) {
		t.Error("StartServer() error contains the password")
	}

	ln.Close()
	if err := c.StartServer(); err != nil {
		t.Fatalf("StartServer() after the port was freed = %v, want nil", err)
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int // sign only
	}{
		{"15", "15", 0},
		{"9.6", "10", -1},
		{"16", "15", 1},
		{"10", "9.6", 1},
		{"15", "15.1", -1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_vs_"+tt.b, func(t *testing.T) {
			got := compareVersions(tt.a, tt.b)
			if sign(got) != tt.want {
				t.Errorf("compareVersions(%q, %q) = %d, want sign %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
