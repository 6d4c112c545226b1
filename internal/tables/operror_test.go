package tables

import (
	"context"
	"errors"
	"testing"
)

// A maintenance operation's error names the table and operation by type
// (the supervisor relies on it to name them once) and still wraps the
// corruption it met.
func TestMaintenanceErrorIsAnOpErrorWrappingTheCorruption(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "k", 0, 300)
	if _, err := tb.Compact(ctx, ModeNative, nil); err != nil {
		t.Fatal(err)
	}
	files := liveLdbFiles(t, tb)
	if len(files) == 0 {
		t.Fatal("no table file")
	}
	flipByte(t, files[0], 100)
	_, err := tb.Verify(ctx, nil)
	var oe *OpError
	if !errors.As(err, &oe) || oe.Table != "t" || oe.Op != "verify" {
		t.Fatalf("verify of a damaged table: %#v (%v), want a *OpError for t/verify", err, err)
	}
	if !IsCorruption(err) {
		t.Fatalf("the corruption is not wrapped: %v", err)
	}
}
