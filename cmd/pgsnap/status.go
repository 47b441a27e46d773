package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pgsnap/pgsnap"
	"github.com/pgsnap/pgsnap/httpapi"
)

// daemonTimeout bounds asking the running daemon: it answers from memory, so a daemon that
// takes longer is treated as not reached and the store is read instead.
const daemonTimeout = 3 * time.Second

func (a *app) statusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether backups are fresh and restorable: what the status page shows",
		Long: `Print each target's freshness (ok, late, failing or none), its schedule and next slot, the
newest snapshots with their size, duration, drill result and missing copies, and each destination,
as the daemon's status page shows them.

The figures come from the running daemon when it answers on SNAPSHOT_HTTP_ADDR (GET /status.json,
with SNAPSHOT_HTTP_TOKEN or SNAPSHOT_HTTP_USER and SNAPSHOT_HTTP_PASSWORD): its schedule, attempts,
failures and whether its scheduler runs. Otherwise they come from the store, which knows the
snapshots but not the daemon's counts; the output says which source it read. The verdict uses the
schedule's interval plus SNAPSHOT_STALE_AFTER. Exit code 0 when fresh, 1 otherwise, so it fits a
cron job or a monitoring check. --json prints what /status.json serves, with "source" added.`,
		Example: `  pgsnap status
  pgsnap status --json | jq '.targets[0].state'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.openStores()
			if err != nil {
				return err
			}
			rep, source, storeOnly, err := a.status(cmd.Context(), st)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeStatusJSON(a.stdout, rep, source); err != nil {
					return err
				}
			} else if err := httpapi.WriteReport(a.stdout, rep, httpapi.TextOptions{Source: source, StoreOnly: storeOnly}); err != nil {
				return err
			}
			if !rep.Ready {
				return notFresh
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return reads(cmd, "SNAPSHOT_HTTP_ADDR", "SNAPSHOT_HTTP_TOKEN", "SNAPSHOT_HTTP_USER", "SNAPSHOT_HTTP_PASSWORD",
		"SNAPSHOT_TARGET", "SNAPSHOT_DIR", "SNAPSHOT_S3_URL", "SNAPSHOT_SCHEDULE", "SNAPSHOT_STALE_AFTER", "SNAPSHOT_CONFIG")
}

// status reads the daemon's report when it answers, else builds one from the store; source
// says which, and why the daemon was not asked or not heard.
func (a *app) status(ctx context.Context, st *stores) (rep httpapi.Report, source string, storeOnly bool, err error) {
	where, rep, derr := a.daemonReport(ctx, st.http)
	if derr == nil {
		if rep, derr = narrowReport(rep, st.target); derr == nil {
			return rep, "the daemon at " + where, false, nil
		}
		derr = fmt.Errorf("the daemon at %s %w", where, derr)
	}
	a.log.Debug("status from the store", "reason", derr)
	rep, err = storeReport(ctx, st)
	if err != nil {
		return rep, "", false, err
	}
	return rep, fmt.Sprintf("the store, without the daemon (%v)", derr), true, nil
}

// daemonReport asks the daemon serving the settings' SNAPSHOT_HTTP_ADDR for /status.json.
func (a *app) daemonReport(ctx context.Context, cfg pgsnap.Config) (string, httpapi.Report, error) {
	var rep httpapi.Report
	if cfg.HTTPAddr == pgsnap.HTTPOff {
		return "", rep, errors.New("SNAPSHOT_HTTP_ADDR=off: no daemon to ask")
	}
	endpoint := "http://" + dialAddr(cfg.HTTPAddr) + "/status.json"
	ctx, cancel := context.WithTimeout(ctx, daemonTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return endpoint, rep, fmt.Errorf("daemon at %s: %w", endpoint, err)
	}
	switch {
	case cfg.HTTPToken != "":
		req.Header.Set("Authorization", "Bearer "+cfg.HTTPToken)
	case cfg.HTTPUser != "":
		req.SetBasicAuth(cfg.HTTPUser, cfg.HTTPPassword)
	}
	resp, err := daemonClient.Do(req)
	if err != nil {
		return endpoint, rep, fmt.Errorf("daemon not reached at %s: %w", endpoint, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	switch {
	case err != nil:
		return endpoint, rep, fmt.Errorf("daemon at %s: read: %w", endpoint, err)
	case resp.StatusCode == http.StatusUnauthorized:
		return endpoint, rep, fmt.Errorf("daemon at %s refused the request (401): set SNAPSHOT_HTTP_TOKEN, or SNAPSHOT_HTTP_USER and SNAPSHOT_HTTP_PASSWORD, as the daemon has them", endpoint)
	case resp.StatusCode != http.StatusOK:
		return endpoint, rep, fmt.Errorf("daemon at %s answered %s", endpoint, resp.Status)
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		return endpoint, rep, fmt.Errorf("daemon at %s: not a pgsnap status: %w", endpoint, err)
	} else if rep.Now.IsZero() {
		return endpoint, rep, fmt.Errorf("daemon at %s: not a pgsnap status", endpoint)
	}
	return endpoint, rep, nil
}

// daemonClient carries the daemon's credentials to the daemon only: no proxy from the
// environment, no redirect followed.
var daemonClient = &http.Client{
	Transport:     &http.Transport{Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// or is list, or alt alone when list is empty.
func or(list []string, alt string) []string {
	if len(list) == 0 {
		return []string{alt}
	}
	return list
}

// dialAddr is where a client reaches a listen address: a wildcard host means this machine.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// unwrapURLError drops net/http's "Get URL:" prefix; the caller names the URL once.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// narrowReport keeps the target asked about; a daemon that does not serve it is another
// daemon (another database on this machine), not this target's.
func narrowReport(rep httpapi.Report, target string) (httpapi.Report, error) {
	if target == "" {
		return rep, nil
	}
	var names []string
	for _, tr := range rep.Targets {
		if tr.Target.Name == target {
			rep.Targets = []httpapi.TargetReport{tr}
			rep.Ready, rep.Healthy = tr.Verdict.Fresh, tr.Target.Alive
			return rep, nil
		}
		names = append(names, tr.Target.Name)
	}
	return rep, fmt.Errorf("serves %s, not %s", strings.Join(or(names, "no target"), ", "), target)
}

// storeReport builds the report from the stores alone: every target with a snapshot there (or
// the one asked about), each judged by its own settings' schedule.
func storeReport(ctx context.Context, st *stores) (httpapi.Report, error) {
	snaps, err := st.list(ctx, "")
	if err != nil {
		return httpapi.Report{}, err
	}
	all := httpapi.Status{Now: time.Now(), Version: pgsnap.Version()}
	for _, target := range st.targets(snaps) {
		sh, err := pgsnap.Open(st.configFor(target))
		if err != nil {
			return httpapi.Report{}, err
		}
		s, err := sh.Status(ctx)
		if err != nil {
			return httpapi.Report{}, err
		}
		all.Targets = append(all.Targets, s.Targets...)
	}
	slices.SortStableFunc(all.Targets, func(x, y httpapi.Target) int { return strings.Compare(x.Name, y.Name) })
	rep := httpapi.Summarize(all)
	if len(rep.Targets) == 0 {
		rep.Ready = false // an empty store is no fresh backup, whatever the vacuous truth
	}
	return rep, nil
}

// writeStatusJSON prints the report as /status.json serves it, with "source" added.
func writeStatusJSON(w io.Writer, rep httpapi.Report, source string) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	fields["source"], _ = json.Marshal(source)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(fields)
}
