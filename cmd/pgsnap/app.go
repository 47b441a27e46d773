package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/httpapi"
)

// app carries what every command needs: its streams, the environment and the parsed flags.
type app struct {
	ctx       context.Context
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)
	environ   []string
	root      *cobra.Command
	log       *slog.Logger
	quiet     bool
}

// usageError marks bad arguments: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// notFresh is pgsnap status's answer when a target is not fresh: exit code 1, the report
// already printed.
var notFresh = errors.New("not fresh")

// execute runs the command line args and returns the process exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool), environ []string) int {
	a := &app{ctx: ctx, stdout: stdout, stderr: stderr, lookupEnv: lookupEnv, environ: environ}
	a.root = a.newRoot()
	a.root.SetArgs(args)
	a.root.SetOut(stdout)
	a.root.SetErr(stderr)
	err := a.root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, notFresh) {
		return exitFailure
	}
	fmt.Fprintf(stderr, "pgsnap: %s\n", indentJoined(err))
	var ce *pgsnap.ConfigError
	var ue usageError
	switch {
	case errors.As(err, &ce), errors.As(err, &ue), isUnknownCommand(err):
		return exitUsage
	case ctx.Err() != nil:
		return exitInterrupted
	}
	return exitFailure
}

// isUnknownCommand recognises cobra's error for a command it does not have ("pgsnap
// snapshots"): cobra has no error type for it, only this wording.
func isUnknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}

// indentJoined prints errors.Join results one per line, control characters escaped: errors
// can quote what others stored (names, labels, server messages).
func indentJoined(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = httpapi.Printable(strings.ReplaceAll(l, "\t", "    "))
	}
	return strings.Join(lines, "\n  ")
}

func (a *app) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "pgsnap",
		Short: "Scheduled pg_dump snapshots of PostgreSQL, kept safe and restorable",
		Long: `pgsnap takes pg_dump snapshots of a PostgreSQL database on a schedule (daily at
SNAPSHOT_TIME, UTC), stores each one so that it is either complete or absent, keeps the newest
SNAPSHOT_RETENTION, and restores them with one command.

Settings come from flags, then environment variables, then defaults: DATABASE_URL and the
SNAPSHOT_* variables, each also a flag (SNAPSHOT_RETENTION is --retention). "pgsnap help
settings" lists every one with its default and accepted form.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		Version:           pgsnap.Version(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.setup(cmd) },
	}
	root.CompletionOptions.HiddenDefaultCmd = false
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// Every setting is a flag of every command, but hidden: each command's help shows its own
	// flags and names the settings it reads; "pgsnap help settings" lists them all.
	pf := root.PersistentFlags()
	for _, s := range append(pgsnap.Settings(), cliSettings...) {
		if s.Flag == "" {
			continue // environment only: a secret has no place in a command line
		}
		f := pf.VarPF(newStringValue(), s.Flag, "", fmt.Sprintf("%s (%s)", s.Doc, s.Env))
		if s.Flag == "enabled" {
			f.NoOptDefVal = "true"
		}
		f.Hidden = true
	}
	pf.BoolVarP(&a.quiet, "quiet", "q", false, quietUsage)
	pf.Lookup("quiet").Hidden = true // shown by the commands that draw a progress bar
	root.AddCommand(a.runCmd(), a.snapshotCmd(), a.listCmd(), a.verifyCmd(), a.restoreCmd(), exportCmd(a), diffCmd(a), a.pruneCmd(), a.syncCmd(), a.pinCmd(true), a.pinCmd(false), a.statusCmd(), a.versionCmd(), settingsTopic())
	return root
}

const quietUsage = "no progress bar (it is shown only on a terminal anyway)"

// withQuiet shows --quiet in the help of a command that draws a progress bar.
func (a *app) withQuiet(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().BoolVarP(&a.quiet, "quiet", "q", false, quietUsage)
	return cmd
}

// setup builds the logger; it runs before every command.
func (a *app) setup(*cobra.Command) error {
	l, err := newLogger(a.stderr, a.lookup)
	if err != nil {
		return err
	}
	a.log = l
	for _, w := range unknownSettings(a.environ) {
		a.log.Warn(w)
	}
	return nil
}

// lookup returns a setting's value: its flag when given, else its environment variable.
func (a *app) lookup(env string) (string, bool) {
	if f := a.root.PersistentFlags().Lookup(flagName(env)); f != nil && f.Changed {
		return f.Value.String(), true
	}
	return a.lookupEnv(env)
}

// config loads the settings. enabledDefault applies when SNAPSHOT_ENABLED is not given at all.
func (a *app) config(enabledDefault bool) (pgsnap.Config, error) {
	a.warnFlagPasswords()
	cfg, err := pgsnap.LoadConfig(a.lookup)
	if err != nil {
		return cfg, err
	}
	if _, set := a.lookup("SNAPSHOT_ENABLED"); !set {
		cfg.Enabled = enabledDefault
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	a.warnConfig(cfg)
	return cfg, nil
}

// warnFlagPasswords warns about a password in any flag that holds a connection string: a
// command line is visible to every user of the machine.
func (a *app) warnFlagPasswords() {
	for _, s := range pgsnap.Settings() {
		if !s.Secret || s.Flag == "" {
			continue
		}
		if f := a.root.PersistentFlags().Lookup(s.Flag); f != nil && f.Changed {
			warnFlagPassword(a.log, s.Flag, f.Value.String(), s.Env)
		}
	}
}

func warnFlagPassword(log *slog.Logger, flag, value, env string) {
	if pgsnap.ConnString(value).HasPassword() {
		log.Warn(fmt.Sprintf("a password in --%s is visible to other users of this machine: prefer the %s environment variable or a ~/.pgpass file", flag, env))
	}
}

// warnConfig logs, once each, what the settings allow but an operator should hear about.
func (a *app) warnConfig(cfgs ...pgsnap.Config) {
	seen := map[string]bool{}
	for _, cfg := range cfgs {
		for _, w := range cfg.Warnings() {
			if !seen[w] {
				seen[w] = true
				a.log.Warn(w)
			}
		}
	}
}

// scheduler loads the settings and builds a Scheduler, for the commands that take snapshots.
// With a configuration file it is the file's target named by SNAPSHOT_TARGET (or its only one).
func (a *app) scheduler() (*pgsnap.Scheduler, error) {
	if path, ok := a.lookup("SNAPSHOT_CONFIG"); ok && path != "" {
		return a.fileTarget(path)
	}
	cfg, err := a.config(false)
	if err != nil {
		return nil, err
	}
	return pgsnap.New(cfg, pgsnap.WithLogger(a.log), pgsnap.WithProgress(newProgress(a.stderr, a.quiet)))
}

// shelf loads the settings and opens a handle on the snapshots, for every command that does
// not take one: no schedule is built.
func (a *app) shelf() (*pgsnap.Shelf, error) {
	if path, ok := a.lookup("SNAPSHOT_CONFIG"); ok && path != "" {
		s, err := a.fileTarget(path)
		if err != nil {
			return nil, err
		}
		return s.Shelf, nil
	}
	cfg, err := a.config(false)
	if err != nil {
		return nil, err
	}
	return pgsnap.Open(cfg, pgsnap.WithLogger(a.log), pgsnap.WithProgress(newProgress(a.stderr, a.quiet)))
}

// fleet loads a configuration file and builds its fleet (listing the servers' databases).
func (a *app) fleet(path string, enabledDefault bool, opts ...pgsnap.Option) (*pgsnap.Fleet, error) {
	lookup := a.lookupWithout("SNAPSHOT_TARGET")
	if enabledDefault {
		inner := lookup
		lookup = func(env string) (string, bool) {
			if v, ok := inner(env); ok || env != "SNAPSHOT_ENABLED" {
				return v, ok
			}
			return "true", true // running the daemon is the opt-in; the file may still say false
		}
	}
	a.warnFlagPasswords()
	fc, err := pgsnap.LoadFleetConfig(path, lookup)
	if err != nil {
		return nil, usageError{err}
	}
	a.warnConfig(fleetConfigs(fc)...)
	return pgsnap.NewFleet(a.ctx, fc, append([]pgsnap.Option{pgsnap.WithLogger(a.log)}, opts...)...)
}

// fileTarget picks one target of a configuration file for a single-target command.
func (a *app) fileTarget(path string) (*pgsnap.Scheduler, error) {
	f, err := a.fleet(path, false, pgsnap.WithProgress(newProgress(a.stderr, a.quiet)))
	if err != nil {
		return nil, err
	}
	want, _ := a.lookup("SNAPSHOT_TARGET")
	var names []string
	for _, s := range f.Schedulers() {
		if s.Target() == want || want == "" && len(f.Schedulers()) == 1 {
			return s, nil
		}
		names = append(names, s.Target())
	}
	return nil, usageError{fmt.Errorf("SNAPSHOT_TARGET=%q: the configuration file %s has the targets %s: name one with --target", want, path, strings.Join(names, ", "))}
}

// lookupWithout is lookup with one setting hidden (SNAPSHOT_TARGET picks a file's target; it
// must not rename them all).
func (a *app) lookupWithout(hidden string) func(string) (string, bool) {
	return func(env string) (string, bool) {
		if env == hidden {
			return "", false
		}
		return a.lookup(env)
	}
}

func flagName(env string) string {
	for _, s := range pgsnap.Settings() {
		if s.Env == env && s.Flag != "" {
			return s.Flag
		}
	}
	for _, s := range cliSettings {
		if s.Env == env {
			return s.Flag
		}
	}
	return ""
}

// stringValue is a pflag.Value that records only whether and what was given; parsing happens
// in one place (pgsnap.LoadConfig) so flag and environment errors read the same.
type stringValue struct{ v string }

func newStringValue() *stringValue        { return &stringValue{} }
func (s *stringValue) String() string     { return s.v }
func (s *stringValue) Set(v string) error { s.v = v; return nil }
func (s *stringValue) Type() string       { return "string" }
