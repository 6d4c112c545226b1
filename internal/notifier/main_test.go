package notifier

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The test binary doubles as a notifier process: with NOTIFIER_CHILD=1 it
// runs Run until SIGINT/SIGTERM (or SIGKILL) instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("NOTIFIER_CHILD") == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func childMain() int {
	nc, err := nats.Connect(os.Getenv("NOTIFIER_CHILD_NATS"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	defer nc.Close()
	cfg := testConfig(os.Getenv("NOTIFIER_CHILD_NAME"))
	if w := os.Getenv("NOTIFIER_CHILD_WEBHOOKS"); w != "" {
		cfg.Webhooks = strings.Fields(w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, nc, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// startChild runs a notifier in a child process (this test binary).
func startChild(t *testing.T, natsURL, name string, webhooks ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"NOTIFIER_CHILD=1",
		"NOTIFIER_CHILD_NATS="+natsURL,
		"NOTIFIER_CHILD_NAME="+name,
		"NOTIFIER_CHILD_WEBHOOKS="+strings.Join(webhooks, " "),
	)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}
