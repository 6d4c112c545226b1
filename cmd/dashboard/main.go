// Command dashboard serves Custodian's HTTP dashboard and JSON API, built
// from the CUSTODIAN_EVENTS and CUSTODIAN_STATS streams (it starts from the
// newest message of each subject and the history's window, not from a
// replay):
//
//	dashboard --nats nats://127.0.0.1:4222 --listen 127.0.0.1:8080 [--admin-token T]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/dashboard"
	"github.com/custodian-dev/custodian/internal/events"
)

// Exit codes, as the other binaries: 0 after --help or a clean stop, 2 on bad
// flags, 1 on a runtime failure.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ue usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "dashboard: %v\n", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "dashboard: %v\n", err)
		os.Exit(1)
	}
}

// usageError is a bad flag or argument.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// options are the command's flags.
type options struct {
	conn       bus.ConnOptions
	listen     string
	adminToken string
	prefix     string
	hosts      string
	limits     dashboard.Limits
}

func parseFlags(args []string, stdout io.Writer) (options, error) {
	o, err := parseArgs(args, stdout)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		err = usageError{err}
	}
	return o, err
}

func parseArgs(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.conn.Register(fs)
	fs.StringVar(&o.listen, "listen", dashboard.DefaultListen, "HTTP listen address")
	fs.StringVar(&o.adminToken, "admin-token", os.Getenv("CUSTODIAN_ADMIN_TOKEN"), "token that POST actions need (env CUSTODIAN_ADMIN_TOKEN); empty: actions are open")
	fs.StringVar(&o.prefix, "prefix", events.DefaultPrefix, "subject prefix")
	fs.StringVar(&o.hosts, "allowed-hosts", "", "comma-separated Host names to serve besides loopback ones when --listen is loopback (a reverse proxy's public name)")
	o.limits.Register(fs, "")
	fs.Usage = func() {} // a parse error is reported in one line by main
	usage := func() {
		fmt.Fprintf(stdout, "Usage: dashboard --nats URL [--listen ADDR] [--admin-token TOKEN] [--prefix P] [--allowed-hosts H] [--max-streams N] ...\n\n"+
			"Serves the Custodian dashboard (page, JSON API, SSE, /metrics) built from the %s and %s streams.\n\nFlags:\n", events.StreamName, events.StatsStreamName)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !events.ValidPrefix(o.prefix) {
		return o, fmt.Errorf("--prefix %q is not a subject prefix", o.prefix)
	}
	if o.listen == "" {
		return o, errors.New("--listen is empty")
	}
	if err := o.limits.Validate(""); err != nil {
		return o, err
	}
	if o.conn.URL == "" {
		return o, errors.New("no NATS URL: give --nats or set NATS_URL")
	}
	if err := o.conn.Validate(); err != nil {
		return o, err
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	o.conn.Name = "custodian-dashboard"
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	nc, err := o.conn.Connect(cctx)
	cancel()
	if err != nil {
		return err
	}
	defer nc.Close()
	var hosts []string
	for _, h := range strings.Split(o.hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	srv, err := dashboard.New(nc, dashboard.Config{Listen: o.listen, AdminToken: o.adminToken, Prefix: o.prefix, AllowedHosts: hosts, Limits: o.limits})
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.listen, err)
	}
	fmt.Fprintf(stderr, "dashboard: serving http://%s from %s and %s\n", ln.Addr(), events.StreamName, events.StatsStreamName)
	return srv.Serve(ctx, ln)
}
