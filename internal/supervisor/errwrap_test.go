package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/tables"
)

func TestOpErrorNamesTableAndOperationOnce(t *testing.T) {
	base := errors.New("checksum mismatch")
	once := opError("users", "verify", base)
	if once.Error() != "table users: verify: checksum mismatch" || !errors.Is(once, base) {
		t.Fatalf("first wrap: %q", once)
	}
	if again := opError("users", "verify", once); again.Error() != once.Error() {
		t.Fatalf("wrapped twice: %q", again)
	}
	other := opError("users", "backup", once)
	if other.Error() != "table users: backup: table users: verify: checksum mismatch" {
		t.Fatalf("another operation must still wrap: %q", other)
	}
	var oe *tables.OpError
	if !errors.As(other, &oe) || oe.Table != "users" || oe.Op != "backup" {
		t.Fatalf("not a *tables.OpError naming users/backup: %#v", other)
	}
	// What tables returns is recognised by its type, not by its text.
	lookalike := errors.New("table users: verify: made up")
	if got := opError("users", "verify", lookalike); got.Error() != "table users: verify: table users: verify: made up" {
		t.Fatalf("a plain error that only reads like one must be wrapped: %q", got)
	}
	if opError("users", "verify", nil) != nil {
		t.Fatal("nil must stay nil")
	}
}

// A real error of a tables operation (a rewrite cancelled midway) is named
// once, not "table t: compact: table t: compact: ...".
func TestOpErrorOfARealRewriteNamesTableOnce(t *testing.T) {
	s, err := tables.OpenStore(t.TempDir(), tables.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	tb, err := s.Open(ctx, "t", true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if err := tb.Put(ctx, fmt.Sprintf("k%05d", i), json.RawMessage(`{"v":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, cerr := tb.Compact(cctx, tables.ModeRewrite, func(done, total int64, unit string) { cancel() })
	if !errors.Is(cerr, context.Canceled) {
		t.Fatalf("cancelled rewrite: %v", cerr)
	}
	got := opError("t", "compact", cerr).Error()
	if strings.Count(got, "table t: compact:") != 1 {
		t.Fatalf("table and operation named more than once: %q", got)
	}
}
