package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// TestDataPlaneCorruptionIsUnavailable: the first data-plane request that
// meets a corruption (here a flipped byte in a table file, met by get, put,
// delete, batch and scan) answers apierr.TableUnavailable, says so, and
// still classifies as a corruption; a maintenance operation (verify) keeps
// its error.
func TestDataPlaneCorruptionIsUnavailable(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	var c damage
	for _, d := range corruptionMatrix() {
		if d.name == "flipped-ldb" {
			c = d
		}
	}
	prepareDamaged(t, root, c)
	det := &detections{}
	s := openTestStore(t, root, det)
	tb, err := s.Open(ctx, "t", false)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	check := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error on a damaged block", op)
		}
		if apierr.CodeOf(err) != apierr.TableUnavailable || apierr.CodeOf(err).Status() != 503 {
			t.Fatalf("%s: code %s, want %s: %v", op, apierr.CodeOf(err), apierr.TableUnavailable, err)
		}
		if !IsCorruption(err) {
			t.Fatalf("%s: error no longer classifies as corruption: %v", op, err)
		}
		msg := apierr.MessageOf(err)
		if !strings.Contains(msg, "corruption detected") || !strings.Contains(msg, "restored") || !strings.Contains(msg, "table t: "+op) {
			t.Fatalf("%s: message %q", op, msg)
		}
		var ae *apierr.Error
		if !errors.As(err, &ae) || ae.Err == nil || !IsCorruption(ae.Err) {
			t.Fatalf("%s: the *apierr.Error does not wrap the corruption: %#v", op, ae)
		}
	}
	// A key in the damaged block: the first that get fails on.
	bad := ""
	for i := 0; i < 30000 && bad == ""; i++ {
		k := fmt.Sprintf("k%06d", i)
		if _, err := tb.Get(ctx, k); err != nil {
			check("get", err)
			bad = k
		}
	}
	if bad == "" {
		t.Fatal("no get met the damaged block")
	}
	// Writes read the old value first, so they meet it too; nothing is written.
	check("put", tb.Put(ctx, bad, json.RawMessage(`1`)))
	check("delete", tb.Delete(ctx, bad))
	check("batch", tb.Batch(ctx, []Op{{Op: "put", Key: "fresh", Value: json.RawMessage(`1`)}, {Op: "delete", Key: bad}}))
	if _, err := tb.Get(ctx, "fresh"); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("a refused batch wrote: %v", err)
	}
	var scanErr error
	for after := ""; ; {
		res, err := tb.Scan(ctx, "", after, MaxScanLimit)
		if err != nil {
			scanErr = err
			break
		}
		if res.Next == "" {
			break
		}
		after = res.Next
	}
	check("scan", scanErr)
	// Every one was reported, with its op.
	ops := map[string]bool{}
	for _, d := range det.list() {
		ops[d.op] = true
	}
	for _, op := range []string{"get", "put", "delete", "batch", "scan"} {
		if !ops[op] {
			t.Fatalf("OnCorruption not called for %s (calls %v)", op, ops)
		}
	}
	// Maintenance keeps its error: internal, still a corruption.
	_, err = tb.Verify(ctx, nil)
	if err == nil || !IsCorruption(err) || apierr.CodeOf(err) != apierr.Internal {
		t.Fatalf("verify: code %s: %v", apierr.CodeOf(err), err)
	}
	// Input errors keep their codes on the damaged table.
	if err := tb.Put(ctx, "", json.RawMessage(`1`)); apierr.CodeOf(err) != apierr.InvalidRequest {
		t.Fatalf("empty key: %v", err)
	}
}
