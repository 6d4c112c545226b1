package main

import (
	"bytes"
	"testing"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/tables"
)

// The supervisor's default --max-body is the body limit the value limit
// was set for: a put of the longest key and the largest value fits it
// (internal/bus TestLargestValueFitsTheDefaultBody stores one).
func TestDefaultMaxBodyFitsTheLargestPut(t *testing.T) {
	t.Setenv("NATS_URL", "")
	s, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	envelope := len(`{"key":"","value":}`)
	if s.MaxBody != bus.DefaultMaxBody || tables.MaxKeyBytes+tables.MaxValueBytes+envelope > s.MaxBody {
		t.Fatalf("--max-body %d (bus default %d) cannot carry a %d-byte key and a %d-byte value",
			s.MaxBody, bus.DefaultMaxBody, tables.MaxKeyBytes, tables.MaxValueBytes)
	}
}
