package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
)

// connect parses the NATS flags (and extra ones registered by the caller) in
// args and connects; it returns the positional arguments.
func connect(ctx context.Context, name string, args []string, extra func(*flag.FlagSet)) (*nats.Conn, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o bus.ConnOptions
	o.Register(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	o.Name = "custodian-probe"
	nc, err := o.Connect(ctx, nats.MaxReconnects(0))
	if err != nil {
		return nil, nil, err
	}
	return nc, fs.Args(), nil
}

// probeRequest sends an empty request to the one subject in args and wants
// an answer that is not a contract error.
func probeRequest(ctx context.Context, args []string, stdout io.Writer) error {
	nc, rest, err := connect(ctx, "request", args, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	if len(rest) != 1 {
		return errors.New("want exactly one subject")
	}
	msg, err := nc.RequestWithContext(ctx, rest[0], nil)
	if err != nil {
		return fmt.Errorf("%s: %w", rest[0], err)
	}
	if code := msg.Header.Get("Nats-Service-Error-Code"); code != "" {
		return fmt.Errorf("%s: error %s: %s", rest[0], code, msg.Header.Get("Nats-Service-Error"))
	}
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(msg.Data, &body) == nil && body.Error != nil {
		return fmt.Errorf("%s: %s: %s", rest[0], body.Error.Code, body.Error.Message)
	}
	fmt.Fprintf(stdout, "%s: answered (%d bytes)\n", rest[0], len(msg.Data))
	return nil
}

// probeConsumer wants the durable consumer named in args to exist on the
// stream and a client to be pulling from it (pending pull requests).
func probeConsumer(ctx context.Context, args []string, stdout io.Writer) error {
	var stream string
	nc, rest, err := connect(ctx, "consumer", args, func(fs *flag.FlagSet) {
		fs.StringVar(&stream, "stream", events.StreamName, "stream of the consumer")
	})
	if err != nil {
		return err
	}
	defer nc.Close()
	if len(rest) != 1 {
		return errors.New("want exactly one consumer name")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	c, err := js.Consumer(ctx, stream, rest[0])
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", rest[0], stream, err)
	}
	info := c.CachedInfo()
	if info.PushBound {
		fmt.Fprintf(stdout, "consumer %s: push-bound\n", rest[0])
		return nil
	}
	if info.NumWaiting == 0 {
		return fmt.Errorf("consumer %s on %s: nobody is pulling (no waiting pull requests)", rest[0], stream)
	}
	fmt.Fprintf(stdout, "consumer %s: %d waiting pulls, %d pending\n", rest[0], info.NumWaiting, info.NumPending)
	return nil
}
