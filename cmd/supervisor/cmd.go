package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
)

const cmdUsage = `Usage: supervisor cmd [flags] TABLE VERB
       supervisor cmd [flags] --node NODE VERB

Sends a command to the supervisor that owns TABLE (the request
<prefix>.cmd.TABLE.VERB, as "nats req" would), shows the progress the running
operation reports while it waits (a bar on a terminal, a line per report
otherwise, on stderr), and prints the reply with the outcome event as JSON on
stdout. VERB is compact, backup, verify, restore, salvage, drill or status.
While another command of the table runs first, its progress is shown as
"waiting behind" it.

restore --at TIME brings the table back to its state as of TIME: an RFC 3339
time (2026-11-26T10:15:00Z, 2026-11-26T11:15:00+01:00) or a duration back
from now (10m, 1h30m); it is sent as {"at":"<RFC 3339 UTC>"}. The state the
restore replaces is kept under quarantine/<table>/ on the supervisor.
drill restores the newest backup plus the journal into a scratch directory
and compares it with the live table; the table keeps serving. Exit status: 0 when the command ended ok or skipped, 1 when it
failed or was refused (also: no supervisor owns the table), 2 on bad
arguments, 3 when its outcome is not known (no connection, --timeout, or
interrupted: the command goes on on the supervisor, its events are in the
stream).

With --node, VERB (compact, backup, verify or drill) runs on every table of
NODE (the request <prefix>.node.NODE.VERB); while it waits it shows how many
tables are done of how many (a bar on a terminal, a line at most every
second otherwise), from the outcome events in the stream CUSTODIAN_EVENTS,
and prints the node's reply with each table's result and outcome event. It
exits 1 when a table's command failed or was refused.

Flags:
`

// runCmd is "supervisor cmd".
func runCmd(args []string, stdout, stderr io.Writer) int {
	fs, conn := subcommandFlags("cmd")
	var prefix, mode, backupID, at, node string
	var force bool
	var timeout time.Duration
	fs.StringVar(&prefix, "prefix", events.DefaultPrefix, "subject prefix")
	fs.BoolVar(&force, "force", false, "compact: even below the dead-space threshold; salvage: a serving table too")
	fs.StringVar(&mode, "mode", "", "compact: auto, native or rewrite (default: the table's policy)")
	fs.StringVar(&backupID, "backup-id", "", "restore: this backup (default: the newest good one)")
	fs.StringVar(&at, "at", "", "restore: the table's state as of this time (RFC 3339, or a duration back from now like 10m)")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the outcome")
	fs.StringVar(&node, "node", "", "run VERB on every table of this node (compact, backup, verify, drill)")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(fs, stdout, cmdUsage)
		return 0
	}
	if err == nil && flagGiven(fs, "node") {
		return runNodeCmd(nodeCmdArgs{conn: conn, prefix: prefix, node: node, pos: pos, timeout: timeout,
			body: events.CommandBody{Force: force, Mode: mode, BackupID: backupID, At: at}, given: func(name string) bool { return flagGiven(fs, name) }},
			stdout, stderr)
	}
	if err == nil && len(pos) != 2 {
		err = fmt.Errorf("want TABLE VERB, got %d arguments (see --help)", len(pos))
	}
	if err == nil && !events.ValidTable(pos[0]) {
		err = fmt.Errorf("invalid table name %q", pos[0])
	}
	if err == nil && !slices.Contains(events.TableVerbs(), pos[1]) {
		err = fmt.Errorf("unknown verb %q: want one of %s", pos[1], strings.Join(events.TableVerbs(), ", "))
	}
	if err == nil && !events.ValidPrefix(prefix) {
		err = fmt.Errorf("--prefix: invalid subject prefix %q", prefix)
	}
	if err == nil && timeout <= 0 {
		err = fmt.Errorf("--timeout %s: want a positive duration", timeout)
	}
	if err == nil && backupID == "" && flagGiven(fs, "backup-id") {
		// e.g. --backup-id "$ID" with $ID unset: not "the newest backup"
		err = errors.New("--backup-id: empty (leave the flag out to restore the newest good backup)")
	}
	if err == nil {
		err = flagsFit(pos[1], force, mode, backupID)
	}
	var atTime string
	if err == nil && flagGiven(fs, "at") {
		atTime, err = atFlag(pos[1], at, backupID, time.Now())
	}
	if err != nil {
		fmt.Fprintf(stderr, "supervisor cmd: %v\n", err)
		return 2
	}
	if conn.URL == "" {
		conn.URL = "nats://" + bus.DefaultListen
	}
	table, verb := pos[0], pos[1]
	body := events.CommandBody{Force: force, Mode: mode, BackupID: backupID, At: atTime}

	interrupted, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(interrupted, timeout)
	defer cancel()
	conn.Name = "custodian-cmd"
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	// The client's own warnings (a slow consumer) would cut through the
	// bar: they are left out, the bar drops reports instead.
	nc, err := conn.Connect(cctx, nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	ccancel()
	if err != nil {
		fmt.Fprintf(stderr, "supervisor cmd: %v\n", err)
		return exitUnknown
	}
	defer nc.Close()
	bar := &progressBar{w: stderr, tty: isTerminal(stderr), verb: verb}
	rep, err := command(ctx, nc, prefix, table, verb, body, bar)
	if err != nil && interrupted.Err() != nil {
		err = fmt.Errorf("table %s: %s: interrupted; the command goes on on the supervisor (its events are in the stream)", table, verb)
	}
	return printReply(stdout, stderr, rep, err, interrupted.Err() != nil, rep.Result == events.ResultFailed)
}

// printReply ends a command line: the error on stderr (exit 3 when the
// outcome is unknown or the wait was interrupted, 1 otherwise), or the
// reply as one JSON line on stdout (exit 1 when failed).
func printReply(stdout, stderr io.Writer, rep any, err error, interrupted, failed bool) int {
	if err != nil {
		fmt.Fprintf(stderr, "supervisor cmd: %v\n", err)
		if errors.Is(err, errUnknownOutcome) || interrupted {
			return exitUnknown
		}
		return 1
	}
	out, err := json.Marshal(rep)
	if err != nil {
		fmt.Fprintf(stderr, "supervisor cmd: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(out))
	if failed {
		return 1
	}
	return 0
}

// command sends verb for table and waits for its reply (with the outcome,
// except for status), showing on bar the progress reports of the table's
// running operation meanwhile. An error reply is returned as an error with
// its code and message.
func command(ctx context.Context, nc *nats.Conn, prefix, table, verb string, body events.CommandBody, bar *progressBar) (bus.CmdReply, error) {
	body.Wait = verb != events.VerbStatus
	payload, err := json.Marshal(body)
	if err != nil {
		return bus.CmdReply{}, err
	}
	// Subscribed (and flushed) before the command is sent, so that no
	// report of it is missed. A full buffer drops reports, never blocks.
	reports := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(events.StatsSubject(prefix, "*", table), reports)
	if err != nil {
		return bus.CmdReply{}, fmt.Errorf("table %s: %s: subscribe to its progress: %w", table, verb, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.FlushWithContext(ctx); err != nil {
		return bus.CmdReply{}, fmt.Errorf("table %s: %s: %w", table, verb, err)
	}

	type answer struct {
		msg *nats.Msg
		err error
	}
	replied := make(chan answer, 1)
	subject := events.CmdSubject(prefix, table, verb)
	go func() {
		m, err := nc.RequestWithContext(ctx, subject, payload)
		replied <- answer{m, err}
	}()
	for {
		select {
		case m := <-reports:
			var e events.Event
			if json.Unmarshal(m.Data, &e) != nil {
				continue // not an event: nothing to show
			}
			if bar.show(e) != nil {
				bar.off() // the display is gone: wait without it
			}
		case a := <-replied:
			_ = bar.end() // the reply matters more than the display
			return readReply(table, verb, subject, a.msg, a.err)
		}
	}
}

// readReply turns the answer of a command request into its reply or an
// error naming what went wrong.
func readReply(table, verb, subject string, m *nats.Msg, err error) (bus.CmdReply, error) {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return bus.CmdReply{}, fmt.Errorf("table %s: %s: no supervisor owns the table (no responders on %s)", table, verb, subject)
	case errors.Is(err, context.DeadlineExceeded):
		return bus.CmdReply{}, fmt.Errorf("table %s: %s: %w: no outcome within --timeout (the command goes on on the supervisor; its events are in the stream)", table, verb, errUnknownOutcome)
	case err != nil:
		return bus.CmdReply{}, fmt.Errorf("table %s: %s: %w: %w", table, verb, errUnknownOutcome, err)
	}
	if m.Header.Get(micro.ErrorCodeHeader) != "" {
		var eb bus.ErrorBody
		if jerr := json.Unmarshal(m.Data, &eb); jerr != nil || eb.Error.Code == "" {
			return bus.CmdReply{}, fmt.Errorf("table %s: %s: %s", table, verb, m.Header.Get(micro.ErrorHeader))
		}
		return bus.CmdReply{}, fmt.Errorf("table %s: %s: %s: %s", table, verb, eb.Error.Code, eb.Error.Message)
	}
	var rep bus.CmdReply
	if err := json.Unmarshal(m.Data, &rep); err != nil {
		return bus.CmdReply{}, fmt.Errorf("table %s: %s: reply is not JSON: %w", table, verb, err)
	}
	return rep, nil
}

// exitUnknown is the exit status when the command's outcome is not known.
const exitUnknown = 3

// errUnknownOutcome marks an error after which the command may still run.
var errUnknownOutcome = errors.New("outcome unknown")

// flagsFit refuses a body flag that verb does not take (the supervisor
// would ignore it).
func flagsFit(verb string, force bool, mode, backupID string) error {
	switch {
	case force && verb != events.VerbCompact && verb != events.VerbSalvage:
		return fmt.Errorf("--force: %s does not take it (compact and salvage do)", verb)
	case mode != "" && verb != events.VerbCompact:
		return fmt.Errorf("--mode: %s does not take it (compact does)", verb)
	case backupID != "" && verb != events.VerbRestore:
		return fmt.Errorf("--backup-id: %s does not take it (restore does)", verb)
	}
	return nil
}

// atFlag checks --at for verb and returns the time it names as RFC 3339
// in UTC: an RFC 3339 time, or a positive duration back from now ("10m").
func atFlag(verb, at, backupID string, now time.Time) (string, error) {
	if verb != events.VerbRestore {
		return "", fmt.Errorf("--at: %s does not take it (restore does)", verb)
	}
	if backupID != "" {
		return "", errors.New("--at: not with --backup-id (a restore to a time picks the newest backup at or before it)")
	}
	if at == "" {
		// e.g. --at "$T" with $T unset: not "the latest state"
		return "", errors.New("--at: empty (leave the flag out to restore the latest state)")
	}
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	if d, err := time.ParseDuration(at); err == nil {
		if d <= 0 {
			return "", fmt.Errorf("--at %q: want a positive duration back from now (10m) or an RFC 3339 time", at)
		}
		return now.Add(-d).UTC().Format(time.RFC3339Nano), nil
	}
	return "", fmt.Errorf("--at %q: want an RFC 3339 time (2026-11-26T10:15:00Z) or a duration back from now (10m)", at)
}

// flagGiven reports whether the flag name was on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
