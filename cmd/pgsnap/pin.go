package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) pinCmd(pin bool) *cobra.Command {
	use, short, long := "pin NAME", "Keep a snapshot whatever retention says",
		`Pin a snapshot: retention (prune, and the daemon after each snapshot) never deletes it, in any
destination, until it is unpinned. The mark is an object beside the snapshot (<name>.pin);
the manifest does not change. list shows PINNED.`
	if !pin {
		use, short, long = "unpin NAME", "Let retention decide about a pinned snapshot again",
			`Remove a snapshot's pin, in every destination: the next prune applies the retention policy to it.`
	}
	return reads(&cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long,
		Example: "  pgsnap " + use[:len(use)-5] + " app-20261124T030000Z",
		Args:    exactArgs(1, "a snapshot name; see pgsnap list"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.shelf()
			if err != nil {
				return err
			}
			if pin {
				err = s.Pin(cmd.Context(), args[0])
			} else {
				err = s.Unpin(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			verb := "pinned"
			if !pin {
				verb = "unpinned"
			}
			fmt.Fprintf(a.stdout, "%s %s\n", verb, args[0])
			return nil
		},
	}, "SNAPSHOT_DIR", "SNAPSHOT_S3_URL", "SNAPSHOT_CONFIG")
}
