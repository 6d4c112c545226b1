package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/notifier"
)

const usageHead = `Usage: notifier --nats URL (--webhook URL | --ntfy URL)... [flags]

Sends push notifications from the CUSTODIAN_EVENTS stream: every final
failure (compaction after its retry, backup, verify, restore), every
automatic restore and every degraded table; nothing for routine success.
Delivery is at least once per sink and never twice to a sink that answered
2xx. More than --burst notifications to one sink within --burst-window go
out as one digest.

Flags:
`

// settings is what the notifier runs with.
type settings struct {
	Conn     bus.ConnOptions
	Notifier notifier.Config
}

// parseFlags parses args (without the program name). On --help it prints
// the usage to out and returns flag.ErrHelp.
func parseFlags(args []string, out io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("notifier", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	s.Conn.Register(fs)
	fs.StringVar(&s.Notifier.Prefix, "prefix", events.DefaultPrefix, "subject prefix")
	s.Notifier.Register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, usageHead)
			fs.SetOutput(out)
			fs.PrintDefaults()
		}
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if s.Conn.URL == "" {
		return s, errors.New("no NATS URL: give --nats or set NATS_URL")
	}
	if err := s.Conn.Validate(); err != nil {
		return s, err
	}
	if err := s.Notifier.Validate(); err != nil {
		return s, err
	}
	s.Conn.Name = "custodian-notifier-" + s.Notifier.Name
	return s, nil
}
