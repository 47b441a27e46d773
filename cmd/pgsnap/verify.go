package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

func (a *app) verifyCmd() *cobra.Command {
	var asJSON, all bool
	var opts pgsnap.VerifyOptions
	cmd := &cobra.Command{
		Use:   "verify [NAME...|--all] [--full] [--drill] [--json]",
		Short: "Prove snapshots are whole and restore",
		Long: `Check snapshots. Quick (always): the stored bytes' size and SHA-256 against the manifest,
the compressed frames whole, and pg_restore reading the archive's table of contents.
--full: pg_restore reads every data block (into /dev/null) and the rows are recounted.
--drill: restore into a scratch database (a unique pgsnap_drill_* name on the source server, or
SNAPSHOT_DRILL_URL's), compare every table's row count with the manifest, drop it again.
Without names (or with --all) every listed snapshot is checked. Exit code 0 only when every
checked snapshot passes.

An encrypted snapshot needs SNAPSHOT_AGE_IDENTITY_FILE to be decrypted. Without it (a host that
holds only the public keys) the quick check passes on the stored bytes' size and SHA-256 and says
that the content was not decrypted; --full and --drill fail, since they must decrypt.`,
		Example: `  pgsnap verify                   # every snapshot: checksum, frames, table of contents
  pgsnap verify --all --full      # every snapshot, every data block
  pgsnap verify --drill latest    # restore into a scratch database and compare row counts`,
		RunE: func(cmd *cobra.Command, names []string) error {
			if all && len(names) > 0 {
				return usageError{errors.New("give snapshot names or --all, not both")}
			}
			s, err := a.shelf()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var snaps []pgsnap.Snapshot
			var results []pgsnap.VerifyResult
			if len(names) == 0 {
				if snaps, err = s.List(ctx); err != nil {
					return err
				}
			}
			for _, n := range names {
				snap, err := s.Find(ctx, n)
				if err != nil {
					if ctx.Err() != nil {
						return err
					}
					results = append(results, pgsnap.VerifyResult{Name: n, Checks: []string{pgsnap.CheckManifest}, Error: err.Error()})
					continue
				}
				snaps = append(snaps, snap)
			}
			if len(snaps) == 0 && len(results) == 0 {
				return errors.New("nothing to verify: no snapshot is listed (an empty store, or every manifest unreadable: see the warnings above)")
			}
			for _, snap := range snaps {
				r := s.Verify(ctx, snap, opts)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				results = append(results, r)
			}
			return a.printVerify(results, asJSON)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "check every listed snapshot (the default without names)")
	f.BoolVar(&opts.Full, "full", false, "also read every data block with pg_restore and recount rows")
	f.BoolVar(&opts.Drill, "drill", false, "also restore into a scratch database and compare row counts")
	f.BoolVar(&asJSON, "json", false, "print JSON: one object per snapshot with name, ok, checks, error")
	return reads(a.withQuiet(cmd), "SNAPSHOT_DIR", "SNAPSHOT_S3_URL", "SNAPSHOT_AGE_IDENTITY_FILE", "SNAPSHOT_DRILL_URL",
		"DATABASE_URL", "SNAPSHOT_TMPDIR", "SNAPSHOT_PG_BIN_DIR", "SNAPSHOT_CONFIG")
}

func (a *app) printVerify(results []pgsnap.VerifyResult, asJSON bool) error {
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if asJSON {
		if results == nil {
			results = []pgsnap.VerifyResult{}
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			checks := strings.Join(r.Checks, ",")
			switch {
			case r.OK && r.Note != "":
				fmt.Fprintf(a.stdout, "ok      %s (%s): %s\n", cell(r.Name), checks, r.Note)
			case r.OK:
				fmt.Fprintf(a.stdout, "ok      %s (%s)\n", cell(r.Name), checks)
			default:
				fmt.Fprintf(a.stdout, "FAILED  %s (%s): %s\n", cell(r.Name), checks, cell(r.Error))
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d snapshots failed verification", failed, len(results))
	}
	return nil
}
