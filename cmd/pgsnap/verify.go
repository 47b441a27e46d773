package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
)

type verifyResult struct {
	Name   string   `json:"name"`
	OK     bool     `json:"ok"`
	Checks []string `json:"checks"`
	Error  string   `json:"error,omitempty"`
}

func (a *app) verifyCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [NAME...]",
		Short: "Check that snapshots' stored bytes match their manifests",
		Long: `Re-read each snapshot's data and compare its size and SHA-256 with the manifest.
Without names, every listed snapshot is checked. Exit code 0 only when every one passes.`,
		RunE: func(cmd *cobra.Command, names []string) error {
			s, _, err := a.scheduler(false)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var snaps []pgsnap.Snapshot
			var results []verifyResult
			if len(names) == 0 {
				if snaps, err = s.List(ctx); err != nil {
					return err
				}
			}
			for _, n := range names {
				snap, err := s.Find(ctx, n)
				if err != nil {
					results = append(results, verifyResult{Name: n, Checks: []string{"manifest"}, Error: err.Error()})
					continue
				}
				snaps = append(snaps, snap)
			}
			for _, snap := range snaps {
				r := verifyResult{Name: snap.Name, Checks: []string{"manifest", "size", "sha256"}, OK: true}
				if err := s.Verify(ctx, snap); err != nil {
					if ctx.Err() != nil {
						return err
					}
					r.OK, r.Error = false, err.Error()
				}
				results = append(results, r)
			}
			failed := 0
			for _, r := range results {
				if !r.OK {
					failed++
				}
			}
			if asJSON {
				if results == nil {
					results = []verifyResult{}
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					if r.OK {
						fmt.Fprintf(a.stdout, "ok      %s\n", r.Name)
					} else {
						fmt.Fprintf(a.stdout, "FAILED  %s: %s\n", r.Name, r.Error)
					}
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d snapshots failed verification", failed, len(results))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: one object per snapshot with name, ok, checks, error")
	return cmd
}
