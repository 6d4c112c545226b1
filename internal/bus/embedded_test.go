package bus

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

func TestEmbeddedServerServesJetStreamInProcessAndOverTCP(t *testing.T) {
	ctx := withTimeout(t, 30*time.Second)
	store := filepath.Join(t.TempDir(), "nats")
	e, err := StartEmbedded(ctx, EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: store, ServerName: "test-node"})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = e.Shutdown(context.Background())
		}
	}()
	if e.Server().Name() != "test-node" {
		t.Errorf("server name %q", e.Server().Name())
	}
	nc, err := e.Connect(ctx, "in-process")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := newJS(t, nc)
	if _, err := EnsureStream(ctx, js, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	// An operator's TCP client sees the same stream.
	tcp := connectTCP(t, e.ClientURL())
	if _, err := newJS(t, tcp).Stream(ctx, events.StreamName); err != nil {
		t.Fatalf("over TCP: %v", err)
	}
	if got := e.Server().NumClients(); got < 2 {
		t.Errorf("%d clients, want in-process and TCP", got)
	}
	tcp.Close()
	nc.Close()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if e.Server().Running() {
		t.Fatal("server still running after Shutdown")
	}

	// The store survives: a new server on the same directory has the stream.
	e2, err := StartEmbedded(ctx, EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Shutdown(context.Background())
	nc2, err := e2.Connect(ctx, "again")
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	if _, err := newJS(t, nc2).Stream(ctx, events.StreamName); err != nil {
		t.Fatalf("stream lost across restart: %v", err)
	}
}

func TestEmbeddedServerReportsTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := withTimeout(t, 20*time.Second)
	_, err = StartEmbedded(ctx, EmbeddedOptions{Listen: l.Addr().String(), StoreDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "cannot listen on "+l.Addr().String()) {
		t.Fatalf("taken port: %v", err)
	}
	for _, bad := range []string{"nohost", "127.0.0.1:x", "127.0.0.1:70000"} {
		if _, err := StartEmbedded(ctx, EmbeddedOptions{Listen: bad, StoreDir: t.TempDir()}); err == nil {
			t.Errorf("listen %q accepted", bad)
		}
	}
	if _, err := StartEmbedded(ctx, EmbeddedOptions{Listen: "127.0.0.1:0"}); err == nil {
		t.Error("no store dir accepted")
	}
}
