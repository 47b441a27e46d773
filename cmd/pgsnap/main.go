// Command pgsnap takes scheduled pg_dump snapshots of a PostgreSQL database, keeps the newest N,
// and restores them. Run `pgsnap --help` for the commands and settings.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1   // the command ran and failed
	exitUsage       = 2   // bad arguments or settings: nothing was touched
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM before finishing
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal cancels ctx and lets the command clean up; a second one exits at once.
	second := make(chan os.Signal, 1)
	go func() {
		<-ctx.Done()
		signal.Notify(second, os.Interrupt, syscall.SIGTERM)
		if _, ok := <-second; ok {
			fmt.Fprintln(os.Stderr, "pgsnap: second signal, exiting now")
			os.Exit(exitInterrupted)
		}
	}()
	stopProfile := startProfile(os.Getenv("PGSNAP_CPUPROFILE"))
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv, os.Environ())
	stopProfile()
	signal.Stop(second)
	os.Exit(code)
}

// startProfile writes a CPU profile of this run to path when set (PGSNAP_CPUPROFILE, for
// `go tool pprof`; the bench harness documents it). It returns the func that ends it.
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgsnap: PGSNAP_CPUPROFILE: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "pgsnap: PGSNAP_CPUPROFILE: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
