package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

// restoreURLSetting is restore's target: a setting of the restore command only, outside the
// library's Config.
var restoreURLSetting = pgsnap.Setting{
	Env: "SNAPSHOT_RESTORE_URL", Flag: "target-url", Secret: true,
	Want: "a connection string like DATABASE_URL's",
	Doc:  "database restore fills (restore --target-url)",
}

// settingsTopic is "pgsnap help settings": every setting, its flag, default and accepted form.
// Commands show only their own flags; this is the one place that lists the settings.
func settingsTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "settings",
		Short: "Every setting: environment variable, flag, default and accepted form",
		Long: `Settings come from flags, then environment variables, then defaults. Every setting is read
by every command that needs it; a flag works before or after the command name. Secrets
(passwords, tokens, S3 keys) are read from the environment only.

` + settingsTable(),
	}
}

// settingsTable lists every setting in documentation order, three lines each.
func settingsTable() string {
	var b strings.Builder
	all := append(pgsnap.Settings(), cliSettings...)
	for _, s := range append(all, restoreURLSetting) {
		flag := "--" + s.Flag
		if s.Flag == "" {
			flag = "environment only"
		} else if s.Env == restoreURLSetting.Env {
			flag = "restore --" + s.Flag
		}
		def := s.Default
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(&b, "  %s (%s, default %s)\n      %s\n      accepted: %s\n", s.Env, flag, def, s.Doc, s.Want)
	}
	return b.String()
}

// reads ends a command's long help with the settings it mostly reads, so its help stays one
// screen while the settings stay flags of every command.
func reads(cmd *cobra.Command, envs ...string) *cobra.Command {
	cmd.Long += "\n\n" + wrap("Settings it reads: "+strings.Join(envs, ", ")+
		" (each also a flag: SNAPSHOT_DIR is --dir).", 96) + "\nEvery setting, with its default and accepted form: pgsnap help settings"
	return cmd
}

// wrap breaks s into lines of at most width columns, at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(s) {
		if n > 0 && n+1+len(w) > width {
			b.WriteByte('\n')
			n = 0
		} else if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
