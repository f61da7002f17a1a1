package stschain

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/stschain/stschain/internal/redact"
)

// RefreshOutcome says how a refresh attempt ended.
type RefreshOutcome string

// Refresh outcomes reported in [RefreshEvent].
const (
	// RefreshOK: STS returned new credentials.
	RefreshOK RefreshOutcome = "ok"
	// RefreshFromCache: Options.Cache had usable credentials; STS was not called.
	RefreshFromCache RefreshOutcome = "cache"
	// RefreshFailedKept: the refresh failed but the current credentials had
	// not expired, so callers keep them; a later attempt retries.
	RefreshFailedKept RefreshOutcome = "failed-kept-current"
	// RefreshFailed: the refresh failed and no valid credentials were left.
	RefreshFailed RefreshOutcome = "failed"
)

// RefreshEvent describes one refresh attempt, for [Options.OnRefresh].
type RefreshEvent struct {
	Link       string         // the role ARN, or GetSessionTokenLink
	Outcome    RefreshOutcome // how it ended
	Err        error          // the failure, for the failed outcomes
	Latency    time.Duration  // how long the attempt took
	Background bool           // true when no caller waited for it
	Expires    time.Time      // expiry of the credentials now cached; zero if none
}

// String describes the event without secrets.
func (ev RefreshEvent) String() string {
	s := fmt.Sprintf("stschain.RefreshEvent{%s %s latency=%v background=%t", ev.Link, ev.Outcome, ev.Latency, ev.Background)
	if !ev.Expires.IsZero() {
		s += " expires=" + ev.Expires.UTC().Format(time.RFC3339)
	}
	if ev.Err != nil {
		s += " error=" + ev.errMessage()
	}
	return s + "}"
}

// errMessage is Err's message without secret-shaped values.
func (ev RefreshEvent) errMessage() string { return redact.Message(ev.Err.Error()) }

// MarshalJSON encodes the event's fields, Err as its message without
// secrets (as String shows it) and omitted when nil.
func (ev RefreshEvent) MarshalJSON() ([]byte, error) {
	v := struct {
		Link       string
		Outcome    RefreshOutcome
		Err        string `json:",omitempty"`
		Latency    time.Duration
		Background bool
		Expires    time.Time
	}{Link: ev.Link, Outcome: ev.Outcome, Latency: ev.Latency, Background: ev.Background, Expires: ev.Expires}
	if ev.Err != nil {
		v.Err = ev.errMessage()
	}
	return json.Marshal(v)
}

// Format prints String() for every verb.
func (ev RefreshEvent) Format(f fmt.State, verb rune) { redact.Format(f, verb, ev.String()) }
