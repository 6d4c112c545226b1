package bus

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A context whose deadline has passed fails the start with the context's
// error, not with "not ready after -Xs".
func TestStartEmbeddedWithAnExpiredContext(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	// Not t.TempDir: a server stopped while it starts may still create its
	// JetStream directories for a moment, which would fail TempDir's check.
	dir, err := os.MkdirTemp("", "custodian-expired-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { time.Sleep(100 * time.Millisecond); _ = os.RemoveAll(dir) })
	srv, err := StartEmbedded(ctx, EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: filepath.Join(dir, "nats")})
	if err == nil {
		_ = srv.Shutdown(context.Background())
		t.Skip("the server was ready at once")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %#v: %v", err, err)
	}
}
