// Command notifier sends push notifications (webhook, ntfy) for the events
// of the CUSTODIAN_EVENTS stream that need a person: final failures,
// automatic restores and degraded tables.
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
	"time"

	"github.com/custodian-dev/custodian/internal/notifier"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit code: 0 after --help or a
// graceful stop, 2 on bad flags, 1 when it cannot run.
func run(args []string, stdout, stderr io.Writer) int {
	s, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "notifier: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	s.Notifier.Log = log

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	nc, err := s.Conn.Connect(cctx)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "notifier: %v\n", err)
		return 1
	}
	defer nc.Close()

	if err := notifier.Run(ctx, nc, s.Notifier); err != nil {
		fmt.Fprintf(stderr, "notifier: %v\n", err)
		return 1
	}
	log.Info("notifier: stopped")
	return 0
}
