package ststest

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/stschain/stschain/internal/redact"
)

// String describes the server by its URL. Its users' secret keys, their
// TOTP seeds and the sessions it issued stay out of test failures and
// logs: fake as they are, a test may well print the server beside real
// ones.
func (s *Server) String() string { return "ststest.Server{" + s.URL + "}" }

// Format prints String for every verb, so that %+v or %#v does not walk
// the server's fields.
func (s *Server) Format(f fmt.State, verb rune) { redact.Format(f, verb, s.String()) }

// LogValue is String, for log/slog.
func (s *Server) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes String as a JSON string.
func (s *Server) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
