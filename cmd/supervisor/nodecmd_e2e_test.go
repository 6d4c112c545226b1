package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
)

// A person runs "supervisor cmd --node n1 compact" against the binary
// serving five tables: the progress counts tables done of total, the reply
// has every table's outcome, and the exit status says it went well.
func TestBinaryNodeCommandShowsTablesDone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildSupervisor(t)
	natsPort := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	sup := startSupervisor(t, bin, "--data", t.TempDir(), "--node", "n1", "--tables", "t1,t2,t3,t4,t5",
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort), "--dashboard", "off")
	waitNode(t, url, "n1", sup)

	run := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"cmd", "--nats", url}, args...)...)
		cmd.Env = append(os.Environ(), "NATS_URL=")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			code = exit.ExitCode()
		case err != nil:
			t.Fatal(err)
		}
		return out.String(), errOut.String(), code
	}

	for _, verb := range []string{"compact", "backup"} {
		args := []string{"--node", "n1", verb}
		if verb == "compact" {
			args = append(args, "--force")
		}
		stdout, stderr, code := run(args...)
		if code != 0 {
			t.Fatalf("cmd --node n1 %s: exit %d\nstdout: %s\nstderr: %s\nlogs: %s", verb, code, stdout, stderr, sup.logs)
		}
		// Not a terminal: lines, the last one all five tables.
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if !strings.HasPrefix(lines[0], "n1 "+verb+" [") || !strings.Contains(lines[len(lines)-1], "100% 5/5 tables") {
			t.Fatalf("cmd --node n1 %s: progress lines:\n%s", verb, stderr)
		}
		var rep bus.NodeReply
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("cmd --node n1 %s: stdout is not the node reply: %v\n%s", verb, err, stdout)
		}
		seen := map[string]bool{}
		for _, c := range rep.Commands {
			if c.Event == nil || c.Result != events.ResultOK || c.Event.Table != c.Table || c.Verb != verb {
				t.Fatalf("cmd --node n1 %s: %s", verb, stdout)
			}
			seen[c.Table] = true
		}
		if rep.Node != "n1" || len(seen) != 5 || len(rep.Refused) != 0 {
			t.Fatalf("cmd --node n1 %s: %s", verb, stdout)
		}
	}

	// A node nobody serves: refused at once, exit 1.
	if _, stderr, code := run("--node", "n9", "verify"); code != 1 || !strings.Contains(stderr, "no supervisor serves the node") {
		t.Fatalf("unserved node: exit %d, %s", code, stderr)
	}
	// Bad arguments: exit 2 before anything is sent.
	for _, args := range [][]string{
		{"--node", "n1", "restore"},
		{"--node", "n1", "t1", "compact"},
		{"--node", "n1", "backup", "--force"},
		{"--node", "a.b", "compact"},
	} {
		if _, stderr, code := run(args...); code != 2 || !strings.Contains(stderr, "supervisor cmd: ") {
			t.Fatalf("%v: exit %d, %s", args, code, stderr)
		}
	}
}

// waitNode waits until node answers its status subject.
func waitNode(t *testing.T, url, node string, c *child) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		nc, err := nats.Connect(url)
		if err == nil {
			_, err = nc.Request("custodian.node."+node+".status", nil, time.Second)
			nc.Close()
			if err == nil {
				return
			}
		}
		select {
		case err := <-c.done:
			t.Fatalf("supervisor exited early: %v\n%s", err, c.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("supervisor not answering after 60s; logs:\n%s", c.logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
