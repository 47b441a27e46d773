package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeRecipe is how the README tells a receiver to check a webhook, read from its text.
type readmeRecipe struct {
	sigHeader, sigPrefix string // X-Pgsnap-Signature: sha256=<hex>
	tsHeader             string // the header carrying the timestamp
	parts                []string
}

func parseReadmeRecipe(t *testing.T) readmeRecipe {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Join(strings.Fields(string(b)), " ") // lines rewrapped freely
	find := func(what string, re *regexp.Regexp) []string {
		m := re.FindStringSubmatch(readme)
		if m == nil {
			t.Fatalf("README has no %s (%s)", what, re)
		}
		return m
	}
	var r readmeRecipe
	m := find("signature header", regexp.MustCompile("`(X-[A-Za-z-]+): ([a-z0-9]+=)<hex>`"))
	r.sigHeader, r.sigPrefix = m[1], m[2]
	r.tsHeader = find("timestamp header", regexp.MustCompile("`(X-[A-Za-z-]+)` \\(Unix seconds"))[1]
	// HMAC-SHA256(secret, timestamp + "." + body): the message, part by part.
	msg := find("HMAC recipe", regexp.MustCompile("`HMAC-SHA256\\(secret, ([^`]+)\\)`"))[1]
	r.parts = strings.Split(msg, " + ")
	return r
}

// A receiver that follows the README's recipe, and nothing else, accepts a real delivery.
func TestWebhookSignatureAsReadmeSays(t *testing.T) {
	recipe := parseReadmeRecipe(t)
	if got := strings.Join(recipe.parts, " + "); got != `timestamp + "." + body` {
		t.Errorf("README recipe message = %s; this test implements timestamp + \".\" + body", got)
	}

	rec := newRecorder(t, nil)
	const secret = "readme-secret"
	w := newWebhooks(t, Options{URLs: []string{rec.URL}, Secret: secret})
	run(t, w.Run)
	before := time.Now()
	w.Notify(Event{Kind: KindFailure, Target: "app", Reason: "dump", Error: "dump: exit status 1"})
	flush(t, w.Flush)
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	r := reqs[0]

	ts := r.header.Get(recipe.tsHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec < before.Unix()-1 || sec > time.Now().Unix()+1 {
		t.Errorf("%s = %q, want the Unix seconds of the delivery", recipe.tsHeader, ts)
	}
	var msg []byte
	for _, p := range recipe.parts {
		switch {
		case p == "timestamp":
			msg = append(msg, ts...)
		case p == "body":
			msg = append(msg, r.body...)
		case len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"':
			msg = append(msg, p[1:len(p)-1]...)
		default:
			t.Fatalf("README recipe part %q is neither timestamp, body nor a quoted string", p)
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(msg)
	want := recipe.sigPrefix + hex.EncodeToString(mac.Sum(nil))
	got := r.header.Get(recipe.sigHeader)
	if !hmac.Equal([]byte(got), []byte(want)) {
		t.Errorf("%s = %q, the README's recipe gives %q", recipe.sigHeader, got, want)
	}

	// The timestamp matters: an HMAC of the body alone does not match.
	bodyOnly := hmac.New(sha256.New, []byte(secret))
	bodyOnly.Write(r.body)
	if hmac.Equal([]byte(got), []byte(recipe.sigPrefix+hex.EncodeToString(bodyOnly.Sum(nil)))) {
		t.Errorf("the signature also matches the body alone: the timestamp is not signed")
	}
}
