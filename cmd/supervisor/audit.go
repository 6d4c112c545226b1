package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
)

const auditUsage = `Usage: supervisor audit [flags]

Replays the CUSTODIAN_EVENTS stream and prints one event per line as JSON, in
stream order, up to the last event present when it started. With --type
table.stats it replays CUSTODIAN_STATS instead, where the table.stats are
(the newest stats_keep of each table).

Flags:
`

// subcommandFlags is the flag set of "supervisor <name>" with the NATS
// connection flags registered; errors and help are printed by the caller.
func subcommandFlags(name string) (*flag.FlagSet, *bus.ConnOptions) {
	fs := flag.NewFlagSet("supervisor "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	conn := &bus.ConnOptions{}
	conn.Register(fs)
	return fs, conn
}

// printHelp writes a subcommand's usage text and its flags.
func printHelp(fs *flag.FlagSet, w io.Writer, usage string) {
	fmt.Fprint(w, usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// runAudit is "supervisor audit".
func runAudit(args []string, stdout, stderr io.Writer) int {
	fs, conn := subcommandFlags("audit")
	var since, table, typ, node, prefix string
	fs.StringVar(&since, "since", "", "only events newer than this: a duration (24h) or an RFC 3339 time")
	fs.StringVar(&table, "table", "", "only events of this table")
	fs.StringVar(&typ, "type", "", "only events whose type starts with this (backup., restore.completed)")
	fs.StringVar(&node, "node", "", "only events of this node")
	fs.StringVar(&prefix, "prefix", events.DefaultPrefix, "subject prefix")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(fs, stdout, auditUsage)
			return 0
		}
		fmt.Fprintf(stderr, "supervisor audit: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "supervisor audit: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if conn.URL == "" {
		conn.URL = "nats://" + bus.DefaultListen
	}
	f := bus.AuditFilter{Table: table, TypePrefix: typ, Node: node, Prefix: prefix}
	if since != "" {
		t, err := parseSince(since, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "supervisor audit: --since: %v\n", err)
			return 2
		}
		f.Since = t
	}
	if err := f.Validate(); err != nil {
		fmt.Fprintf(stderr, "supervisor audit: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := audit(ctx, *conn, f, stdout); err != nil {
		fmt.Fprintf(stderr, "supervisor audit: %v\n", err)
		return 1
	}
	return 0
}

func audit(ctx context.Context, conn bus.ConnOptions, f bus.AuditFilter, w io.Writer) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn.Name = "custodian-audit"
	nc, err := conn.Connect(cctx)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	_, err = bus.Audit(ctx, js, f, w)
	return err
}

// parseSince reads "24h" (relative to now) or an RFC 3339 time.
func parseSince(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a negative duration", v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: neither a duration (24h) nor an RFC 3339 time", v)
	}
	return t, nil
}
