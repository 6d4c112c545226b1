// Command custodian-probe is the health-check probe of Custodian's container
// images (the runtime image is distroless: no shell, no curl). It exits 0 when
// the thing it probes is healthy and 1 with a one-line reason otherwise.
//
//	custodian-probe http URL
//	    GET URL; healthy on a 2xx answer (the dashboard's /healthz).
//	custodian-probe request [NATS flags] SUBJECT
//	    a NATS request with an empty body; healthy when a responder answers
//	    without an error (the supervisor's custodian.node.<node>.status).
//	custodian-probe consumer [NATS flags] [--stream S] NAME
//	    healthy when the durable consumer NAME of the stream exists and a
//	    client is pulling from it (the notifier).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

const usage = `Usage: custodian-probe http URL
       custodian-probe request [NATS flags] SUBJECT
       custodian-probe consumer [NATS flags] [--stream S] NAME
Exits 0 when healthy, 1 with a reason otherwise, 2 on bad usage.`

// defaultTimeout bounds a probe; a health check must never hang.
const defaultTimeout = 5 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprintln(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	var err error
	switch args[0] {
	case "http":
		err = probeHTTP(ctx, args[1:], stdout)
	case "request":
		err = probeRequest(ctx, args[1:], stdout)
	case "consumer":
		err = probeConsumer(ctx, args[1:], stdout)
	default:
		fmt.Fprintf(stderr, "custodian-probe: unknown probe %q\n%s\n", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "custodian-probe: %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
