// Package notify tells people and monitors about snapshots: webhooks on failure, recovery
// and (optionally) success, and a dead-man's-switch ping that an external monitor expects
// after every run.
//
// Neither ever blocks the snapshot path. [Webhooks.Notify], [Webhooks.Outcome] and the [Ping]
// methods put a message on a bounded queue and return; the owner runs [Webhooks.Run] and
// [Ping.Run] in goroutines of its own, which deliver in order and end with their context. A
// full queue drops its oldest message with a logged warning.
//
// # Webhook requests
//
// Each event is one POST of the JSON encoding of [Event] to every configured URL, with
//
//	Content-Type: application/json
//	User-Agent: pgsnap
//	X-Pgsnap-Event: failure | recovery | success | shrink
//	X-Pgsnap-Delivery: <Event.ID>             (the same on every retry: deduplicate on it)
//	X-Pgsnap-Timestamp: <unix seconds>         (when a Secret is set; new on each attempt)
//	X-Pgsnap-Signature: sha256=<hex>           (when a Secret is set)
//
// The signature is the lowercase hex HMAC-SHA256, keyed with the Secret, of the timestamp,
// a full stop and the raw body: HMAC(secret, timestamp + "." + body). A receiver recomputes
// it over the bytes it received, compares in constant time, and rejects timestamps more than
// a few minutes old to stop replays.
//
// A 2xx answer is success. Network errors, timeouts, 429 and 5xx are retried with backoff; any
// other status (including redirects, which are not followed) is final. URLs are never logged
// in full: they often carry credentials in user info, path or query.
package notify

import (
	"encoding/json"
	"fmt"
	"time"
)

// The kinds of event.
const (
	KindFailure  = "failure"  // an attempt failed
	KindRecovery = "recovery" // an attempt succeeded after one or more failed
	KindSuccess  = "success"  // an attempt succeeded
	KindShrink   = "shrink"   // a table lost much of its rows between two snapshots
)

// Event is one notification. Its JSON encoding is the webhook body; the field names (in the
// json tags, plus "duration_seconds") are a public interface: fields are added, never renamed.
type Event struct {
	// ID identifies the event: random, the same for every URL and retry. Set by Notify
	// when empty.
	ID string `json:"id"`
	// Kind is KindFailure, KindRecovery or KindSuccess.
	Kind     string `json:"kind"`
	Target   string `json:"target"`
	Snapshot string `json:"snapshot,omitempty"` // the snapshot committed, or the one attempted
	// Error is the failure's message, already free of secrets; empty on success.
	Error string `json:"error,omitempty"`
	// Reason classifies a failure by its cause: "auth", "pg_hba", "no_database", "connection",
	// "permission", "lock_wait", "timeout", "storage", "corruption", "config", "dump" or "other".
	Reason string `json:"reason,omitempty"`
	// At is when the attempt ended. Set by Notify when zero.
	At time.Time `json:"at"`
	// Duration is how long the attempt took; JSON "duration_seconds" (float).
	Duration time.Duration `json:"-"`
	Size     int64         `json:"size_bytes,omitempty"` // stored bytes of the snapshot
	Attempt  int           `json:"attempt,omitempty"`    // 1 for the first attempt of a slot
	// Destinations that hold the snapshot, and those that should and do not.
	Destinations []string `json:"destinations,omitempty"`
	Missing      []string `json:"missing,omitempty"`
	// Failures counts the consecutive failed attempts of the current streak: on a failure,
	// including this one; on a recovery, the streak just ended. Set by Outcome.
	Failures int `json:"failures,omitempty"`
	// FailingSince is when the streak's first failure happened. Set by Outcome.
	FailingSince time.Time `json:"failing_since,omitzero"`
	// Table, RowsBefore and RowsAfter describe a shrink: the table ("schema"."table") and its
	// row counts in the Previous snapshot and in Snapshot (0 after, with Vanished, when the
	// table is gone).
	Table      string `json:"table,omitempty"`
	RowsBefore *int64 `json:"rows_before,omitempty"`
	RowsAfter  *int64 `json:"rows_after,omitempty"`
	Vanished   bool   `json:"vanished,omitempty"`
	Previous   string `json:"previous,omitempty"`
	// Text is a one-line summary for people. Chat services that read a "text" field (Slack,
	// Mattermost, Rocket.Chat incoming webhooks) show it as the message. Set by Notify when
	// empty.
	Text string `json:"text"`
}

// eventJSON is Event with the duration in seconds; a type without methods, so encoding it
// does not recurse.
type eventJSON Event

// MarshalJSON encodes e with Duration as "duration_seconds".
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		eventJSON
		Duration float64 `json:"duration_seconds,omitempty"`
	}{eventJSON(e), e.Duration.Seconds()})
}

// UnmarshalJSON decodes what MarshalJSON encodes, for receivers written in Go.
func (e *Event) UnmarshalJSON(b []byte) error {
	var v struct {
		eventJSON
		Duration float64 `json:"duration_seconds"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	*e = Event(v.eventJSON)
	e.Duration = time.Duration(v.Duration * float64(time.Second))
	return nil
}

// summary is the default Text.
func (e Event) summary() string {
	var s string
	switch e.Kind {
	case KindFailure:
		s = fmt.Sprintf("pgsnap: snapshot of %s failed", e.Target)
		if e.Failures > 1 {
			s += fmt.Sprintf(" (%d failures in a row)", e.Failures)
		}
		if e.Error != "" {
			s += ": " + e.Error
		}
	case KindRecovery:
		s = fmt.Sprintf("pgsnap: snapshot of %s succeeded again", e.Target)
		if e.Failures > 0 {
			s += fmt.Sprintf(" after %d failures", e.Failures)
		}
		if e.Snapshot != "" {
			s += ": " + e.Snapshot
		}
	case KindSuccess:
		s = fmt.Sprintf("pgsnap: snapshot of %s committed", e.Target)
		if e.Snapshot != "" {
			s += ": " + e.Snapshot
		}
	case KindShrink:
		before, after := int64(0), int64(0)
		if e.RowsBefore != nil {
			before = *e.RowsBefore
		}
		if e.RowsAfter != nil {
			after = *e.RowsAfter
		}
		if e.Vanished {
			s = fmt.Sprintf("pgsnap: table %s of %s vanished (it had %d rows in %s, none in %s); %s is pinned", e.Table, e.Target, before, e.Previous, e.Snapshot, e.Previous)
		} else {
			s = fmt.Sprintf("pgsnap: table %s of %s shrank from %d to %d rows between %s and %s; %s is pinned", e.Table, e.Target, before, after, e.Previous, e.Snapshot, e.Previous)
		}
	default:
		s = fmt.Sprintf("pgsnap: %s event for %s", e.Kind, e.Target)
	}
	return s
}
