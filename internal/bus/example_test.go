package bus_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
)

// Example wires one node the way cmd/supervisor does: embedded server,
// stream, outbox, supervisor, services; and stops it in reverse order.
func Example() {
	ctx := context.Background()
	data, _ := os.MkdirTemp("", "custodian-example")
	defer os.RemoveAll(data)

	srv, err := bus.StartEmbedded(ctx, bus.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: filepath.Join(data, "nats")})
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown(ctx)
	nc, err := srv.Connect(ctx, "custodian-supervisor-n1")
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		panic(err)
	}

	outbox, err := bus.OpenOutbox(filepath.Join(data, "outbox"), bus.OutboxOptions{})
	if err != nil {
		panic(err)
	}
	defer outbox.Close()
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan error, 1)
	go func() { pubDone <- outbox.Run(pubCtx, js) }()

	sup, err := supervisor.Open(data, tables.Options{}, outbox, supervisor.Config{Node: "n1"})
	if err != nil {
		panic(err)
	}
	defer sup.Close()
	if err := sup.OpenTable(ctx, "users", true); err != nil {
		panic(err)
	}
	supCtx, stopSup := context.WithCancel(ctx)
	supDone := make(chan error, 1)
	go func() { supDone <- sup.Run(supCtx) }()

	services, err := bus.StartServices(nc, sup, bus.ServicesOptions{})
	if err != nil {
		panic(err)
	}

	// An operator's request (here over the same connection).
	if _, err := nc.Request("custodian.kv.users.put", []byte(`{"key":"a","value":{"n":1}}`), 5*time.Second); err != nil {
		panic(err)
	}
	reply, err := nc.Request("custodian.kv.users.get", []byte(`{"key":"a"}`), 5*time.Second)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(reply.Data))

	// ... serve until asked to stop, then in reverse:
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = services.Stop(stopCtx)
	stopSup()
	<-supDone
	_ = outbox.Flush(stopCtx)
	stopPub()
	<-pubDone
	// Output: {"key":"a","value":{"n":1}}
}
