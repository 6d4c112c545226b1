package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
)

// nodeVerbs are the verbs "supervisor cmd --node" runs on every table.
var nodeVerbs = []string{events.VerbCompact, events.VerbBackup, events.VerbVerify, events.VerbDrill}

// nodeCmdArgs are the parsed flags of "supervisor cmd --node".
type nodeCmdArgs struct {
	conn    *bus.ConnOptions
	prefix  string
	node    string
	pos     []string
	timeout time.Duration
	body    events.CommandBody
	given   func(flag string) bool
}

// runNodeCmd is "supervisor cmd --node NODE VERB".
func runNodeCmd(a nodeCmdArgs, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(a.pos) != 1:
		err = fmt.Errorf("--node: want VERB, got %d arguments (see --help)", len(a.pos))
	case !events.ValidNode(a.node):
		err = fmt.Errorf("--node: invalid node id %q", a.node)
	case !slices.Contains(nodeVerbs, a.pos[0]):
		err = fmt.Errorf("--node: unknown verb %q: want one of %s", a.pos[0], strings.Join(nodeVerbs, ", "))
	case !events.ValidPrefix(a.prefix):
		err = fmt.Errorf("--prefix: invalid subject prefix %q", a.prefix)
	case a.timeout <= 0:
		err = fmt.Errorf("--timeout %s: want a positive duration", a.timeout)
	case a.given("backup-id"), a.given("at"):
		err = errors.New("--node: --backup-id and --at are a restore's, which runs per table")
	}
	if err == nil {
		err = flagsFit(a.pos[0], a.body.Force, a.body.Mode, "")
	}
	if err != nil {
		fmt.Fprintf(stderr, "supervisor cmd: %v\n", err)
		return 2
	}
	verb := a.pos[0]
	if a.conn.URL == "" {
		a.conn.URL = "nats://" + bus.DefaultListen
	}
	interrupted, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(interrupted, a.timeout)
	defer cancel()
	a.conn.Name = "custodian-cmd"
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	nc, err := a.conn.Connect(cctx, nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	ccancel()
	if err != nil {
		fmt.Fprintf(stderr, "supervisor cmd: %v\n", err)
		return exitUnknown
	}
	defer nc.Close()
	tty := isTerminal(stderr)
	p := &nodeProgress{w: stderr, tty: tty, what: a.node + " " + verb, every: time.Second}
	if tty {
		p.every = 100 * time.Millisecond
	}
	rep, err := nodeCommand(ctx, nc, a.prefix, a.node, verb, a.body, p)
	if err != nil && interrupted.Err() != nil {
		err = fmt.Errorf("node %s: %s: interrupted; the commands go on on the supervisor (their events are in the stream)", a.node, verb)
	}
	failed := len(rep.Refused) > 0 || slices.ContainsFunc(rep.Commands, func(c bus.CmdReply) bool { return c.Result == events.ResultFailed })
	return printReply(stdout, stderr, rep, err, interrupted.Err() != nil, failed)
}
