// Command supervisor owns a node's LevelDB tables, serves them over NATS,
// keeps them healthy and publishes every command and outcome to the
// CUSTODIAN_EVENTS stream. With no --nats URL it runs the whole system in one
// process: an embedded nats-server, the dashboard and (with a sink flag) the
// notifier. "supervisor audit" replays the stream; "supervisor cmd" sends a
// command and shows its progress while it waits; "supervisor journal" prints
// a table's change journal; "supervisor backups" lists a table's local and
// off-site backups.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// realMain runs the command and returns the exit code: 0 on success and after
// a clean SIGINT/SIGTERM, 2 on bad flags or config, 1 on a runtime failure.
func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "audit":
			return runAudit(args[1:], stdout, stderr)
		case "cmd":
			return runCmd(args[1:], stdout, stderr)
		case "journal":
			return runJournal(args[1:], stdout, stderr)
		case "backups":
			return runBackups(args[1:], stdout, stderr)
		}
	}
	s, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "supervisor: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := run(ctx, s, log); err != nil {
		fmt.Fprintf(stderr, "supervisor: %v\n", err)
		return 1
	}
	return 0
}
