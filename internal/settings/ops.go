package settings

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/notify"
)

// HTTPOff as SNAPSHOT_HTTP_ADDR turns the daemon's HTTP endpoints off.
const HTTPOff = "off"

// opsSettings configure what operators see: HTTP endpoints, freshness, notifications.
var opsSettings = []Setting{
	{
		Env: "SNAPSHOT_HTTP_ADDR", Flag: "http-addr", Default: "127.0.0.1:9187",
		Want: "host:port to listen on, or off",
		Doc:  "pgsnap run serves /healthz, /readyz, /metrics and a status page here",
		set: func(c *Config, v string) error {
			if v != HTTPOff {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return errors.New("not host:port")
				}
			}
			c.HTTPAddr = v
			return nil
		},
	},
	{
		Env: "SNAPSHOT_HTTP_USER", Flag: "http-user", EmptyIsUnset: true,
		Want: "a user name (with SNAPSHOT_HTTP_PASSWORD)",
		Doc:  "basic auth for every endpoint but /healthz",
		set:  func(c *Config, v string) error { c.HTTPUser = v; return nil },
	},
	{
		Env: "SNAPSHOT_HTTP_PASSWORD", Secret: true, hide: true, EmptyIsUnset: true,
		Want: "the basic auth password (environment only)",
		Doc:  "password for SNAPSHOT_HTTP_USER",
		set:  func(c *Config, v string) error { c.HTTPPassword = v; return nil },
	},
	{
		Env: "SNAPSHOT_HTTP_TOKEN", Secret: true, hide: true, EmptyIsUnset: true,
		Want: "a bearer token (environment only)",
		Doc:  "bearer token accepted for every endpoint but /healthz",
		set:  func(c *Config, v string) error { c.HTTPToken = v; return nil },
	},
	{
		Env: "SNAPSHOT_STALE_AFTER", Flag: "stale-after", Default: "1h",
		Want: "a duration greater than 0, such as 1h",
		Doc:  "grace beyond the schedule's interval before the newest snapshot counts as late (/readyz 503)",
		set: func(c *Config, v string) (err error) {
			c.StaleAfter, err = parsePositiveDuration(v)
			return err
		},
	},
	{
		Env: "SNAPSHOT_WEBHOOK_URL", Secret: true, hide: true, EmptyIsUnset: true,
		Want: "one or more http(s) URLs separated by commas (environment only: they often hold tokens)",
		Doc:  "POST a JSON event here on failure and recovery (SNAPSHOT_WEBHOOK_ON)",
		set: func(c *Config, v string) error {
			urls, err := parseURLs(v)
			c.WebhookURLs = urls
			return err
		},
	},
	{
		Env: "SNAPSHOT_WEBHOOK_ON", Flag: "webhook-on", Default: "failure,recovery,shrink",
		Want: "a comma-separated subset of failure, recovery, success, shrink",
		Doc:  "which outcomes are posted to SNAPSHOT_WEBHOOK_URL",
		set: func(c *Config, v string) error {
			var kinds []string
			for _, k := range strings.Split(v, ",") {
				k = strings.TrimSpace(k)
				if k != notify.KindFailure && k != notify.KindRecovery && k != notify.KindSuccess && k != notify.KindShrink {
					return errors.New("not a subset of failure, recovery, success, shrink")
				}
				kinds = append(kinds, k)
			}
			c.WebhookOn = kinds
			return nil
		},
	},
	{
		Env: "SNAPSHOT_SHRINK_ALERT", Flag: "shrink-alert", Default: "50",
		Want: "a percentage from 1 to 100, or off",
		Doc:  "after each snapshot, alert (and pin the previous snapshot) when a table lost more than this share of its rows, or vanished",
		set: func(c *Config, v string) error {
			if v == "off" {
				c.ShrinkAlert = 0
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 || strings.TrimSpace(v) != v {
				return errors.New("not a percentage from 1 to 100, or off")
			}
			c.ShrinkAlert = n
			return nil
		},
	},
	{
		Env: "SNAPSHOT_SHRINK_MIN_ROWS", Flag: "shrink-min-rows", Default: "1000",
		Want: "a whole number ≥ 0",
		Doc:  "tables with fewer rows in the previous snapshot never raise a shrink alert",
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || strings.TrimSpace(v) != v || strings.HasPrefix(v, "+") {
				return errors.New("not a whole number ≥ 0")
			}
			c.ShrinkMinRows = n
			return nil
		},
	},
	{
		Env: "SNAPSHOT_WEBHOOK_SECRET", Secret: true, hide: true, EmptyIsUnset: true,
		Want: "a shared secret (environment only)",
		Doc:  "signs each webhook body: X-Pgsnap-Signature: sha256=HMAC",
		set:  func(c *Config, v string) error { c.WebhookSecret = v; return nil },
	},
	{
		Env: "SNAPSHOT_PING_URL", Secret: true, hide: true, EmptyIsUnset: true,
		Want: "an http(s) URL (healthchecks.io style: /start and /fail are appended)",
		Doc:  "dead man's switch pinged at each snapshot's start, success and failure",
		set: func(c *Config, v string) error {
			urls, err := parseURLs(v)
			if err == nil && len(urls) != 1 {
				err = errors.New("one URL")
			}
			if err == nil {
				c.PingURL = urls[0]
			}
			return err
		},
	},
}

// validateOps adds the operations settings' problems: basic auth needs both halves.
func (c Config) validateOps(bad func(env, value, problem string)) {
	switch {
	case c.HTTPUser != "" && c.HTTPPassword == "":
		bad("SNAPSHOT_HTTP_PASSWORD", "", "required with SNAPSHOT_HTTP_USER: basic auth needs both (or use SNAPSHOT_HTTP_TOKEN alone)")
	case c.HTTPUser == "" && c.HTTPPassword != "":
		bad("SNAPSHOT_HTTP_USER", "", "required with SNAPSHOT_HTTP_PASSWORD: basic auth needs both (or use SNAPSHOT_HTTP_TOKEN alone)")
	}
	if strings.ContainsRune(c.HTTPUser, ':') {
		bad("SNAPSHOT_HTTP_USER", c.HTTPUser, "must not contain ':' (basic auth separates user and password with it)")
	}
}

// parseURLs reads comma-separated http(s) URLs. Errors never repeat a URL: it may hold a token.
func parseURLs(v string) ([]string, error) {
	var out []string
	for i, raw := range strings.Split(v, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("URL " + strconv.Itoa(i+1) + " is not an http(s) URL")
		}
		out = append(out, raw)
	}
	if len(out) == 0 {
		return nil, errors.New("no URL")
	}
	return out, nil
}

// staleAfter is SNAPSHOT_STALE_AFTER with its default.
func (c Config) StaleAfterOrDefault() time.Duration {
	if c.StaleAfter > 0 {
		return c.StaleAfter
	}
	return time.Hour
}
