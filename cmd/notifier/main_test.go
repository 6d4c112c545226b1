package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/notifier"
)

// With NOTIFIER_MAIN_ARGS set, the test binary is the notifier command.
func TestMain(m *testing.M) {
	if a := os.Getenv("NOTIFIER_MAIN_ARGS"); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			panic(err)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestHelpAndBadFlags(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"--help"}, &out, &errs); code != 0 {
		t.Errorf("--help exit %d", code)
	}
	for _, f := range []string{"--webhook", "--ntfy", "--ntfy-token", "--webhook-secret", "--give-up", "--burst", "--burst-window", "--name", "--prefix", "--nats", "--nats-creds"} {
		if !strings.Contains(out.String(), "-"+strings.TrimLeft(f, "-")+" ") {
			t.Errorf("--help does not mention %s", f)
		}
	}
	bad := [][]string{
		{"--bogus"},
		{"--nats", "nats://127.0.0.1:1"}, // no sink
		{"--nats", "nats://127.0.0.1:1", "--webhook", "not a url"},
		{"--nats", "nats://127.0.0.1:1", "--webhook", "http://x/h", "--name", "a.b"},
		{"--nats", "nats://127.0.0.1:1", "--webhook", "http://x/h", "--burst", "x"},
		{"--nats", "nats://127.0.0.1:1", "--webhook", "http://x/h", "extra"},
	}
	for _, args := range bad {
		out.Reset()
		errs.Reset()
		code := run(args, &out, &errs)
		if code == 0 {
			t.Errorf("%v: exit 0", args)
		}
		if lines := strings.Count(strings.TrimRight(errs.String(), "\n"), "\n"); lines != 0 || !strings.HasPrefix(errs.String(), "notifier: ") {
			t.Errorf("%v: want one line of reason, got %q", args, errs.String())
		}
	}
}

// TestCommandDeliversAndStopsOnSIGTERM runs the command as a process
// against an embedded NATS server and a real webhook.
func TestCommandDeliversAndStopsOnSIGTERM(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, _, js := natstest.StartWithStream(ctx, t, "acme")

	var mu sync.Mutex
	var bodies [][]byte
	var sigs []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		sigs = append(sigs, r.Header.Get("X-Custodian-Signature"))
		mu.Unlock()
	}))
	defer hook.Close()

	args, _ := json.Marshal([]string{"--prefix", "acme", "--name", "ops", "--webhook", hook.URL, "--webhook-secret", "k"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NOTIFIER_MAIN_ARGS="+string(args), "NATS_URL="+srv.URL())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	e := events.New(events.TableDegraded, "n1", "users")
	natstest.MustPublish(ctx, t, js, "acme", e)
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no webhook request; stderr:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	var body notifier.WebhookBody
	if err := json.Unmarshal(bodies[0], &body); err != nil {
		t.Fatal(err)
	}
	if body.ID != e.ID || !strings.Contains(body.Message, "nats req acme.cmd.users.salvage") || sigs[0] != notifier.Sign("k", bodies[0]) {
		t.Errorf("body %+v, signature %q", body, sigs[0])
	}
	mu.Unlock()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
