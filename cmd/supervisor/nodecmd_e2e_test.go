package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// The binary's node replies behind a nats-server whose max_payload is 64
// KiB: 250 tables pass the node reply bound (half of it), so node status
// answers pages and node compact answers in parts. "supervisor cmd --node"
// joins the parts and counts all 250 tables; a requester that reads one
// message (the dashboard) gets part 1 with the counts.
func TestBinaryNodeCommandInParts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const total = 250
	bin := buildSupervisor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := bus.StartEmbedded(ctx, bus.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: filepath.Join(t.TempDir(), "nats"), MaxPayload: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	url := srv.ClientURL()
	names := make([]string, total)
	for i := range names {
		names[i] = fmt.Sprintf("tenant-%03d", i)
	}
	sup := startSupervisor(t, bin, "--data", t.TempDir(), "--node", "big", "--tables", strings.Join(names, ","),
		"--nats", url, "--offsite", "off", "--dashboard", "off")
	waitNode(t, url, "big", sup)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// node status: pages of at most 32 KiB that hold every table once.
	var seen []string
	for off, pages := 0, 1; ; pages++ {
		body := ""
		if off > 0 {
			body = fmt.Sprintf(`{"offset":%d}`, off)
		}
		m, err := nc.Request("custodian.node.big.status", []byte(body), 10*time.Second)
		if err != nil {
			t.Fatalf("node status at %d: %v", off, err)
		}
		var ns struct {
			TableCount int               `json:"table_count"`
			Counts     map[string]int    `json:"counts"`
			Tables     []json.RawMessage `json:"tables"`
			Truncated  bool              `json:"truncated"`
			NextOffset int               `json:"next_offset"`
		}
		if err := json.Unmarshal(m.Data, &ns); err != nil || len(m.Data) > 32<<10 || ns.TableCount != total || ns.Counts["ok"] != total {
			t.Fatalf("node status at %d: %d bytes, %v: %.300s", off, len(m.Data), err, m.Data)
		}
		for _, raw := range ns.Tables {
			var ts struct{ Table string }
			if err := json.Unmarshal(raw, &ts); err != nil {
				t.Fatal(err)
			}
			seen = append(seen, ts.Table)
		}
		if !ns.Truncated {
			if pages < 2 {
				t.Fatalf("node status of %d tables in one page under 32 KiB", total)
			}
			break
		}
		off = ns.NextOffset
	}
	if !slices.Equal(seen, names) {
		t.Fatalf("node status pages: %d tables, want %d by name", len(seen), total)
	}

	// supervisor cmd --node: all 250 tables done, from a reply in parts.
	cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer ccancel()
	cmd := exec.CommandContext(cctx, bin, "cmd", "--nats", url, "--node", "big", "compact", "--force")
	cmd.Env = append(os.Environ(), "NATS_URL=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("cmd --node big compact: %v\nstdout: %.500s\nstderr: %s\nlogs: %s", err, out.String(), errOut.String(), sup.logs)
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if !strings.Contains(lines[len(lines)-1], fmt.Sprintf("100%% %d/%d tables", total, total)) {
		t.Fatalf("progress lines:\n%s", errOut.String())
	}
	var rep bus.NodeReply
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the node reply: %v\n%.500s", err, out.String())
	}
	tables := map[string]bool{}
	for _, c := range rep.Commands {
		if c.Event == nil || c.Result != events.ResultOK || c.Event.Table != c.Table {
			t.Fatalf("command %+v", c)
		}
		tables[c.Table] = true
	}
	if rep.Parts < 2 || rep.Total != total || len(tables) != total || len(rep.Refused) != 0 {
		t.Fatalf("reply: %d parts, total %d, %d tables, refused %v", rep.Parts, rep.Total, len(tables), rep.Refused)
	}

	// One message read (as the dashboard does): part 1, under the bound,
	// with the counts of the whole.
	m, err := nc.Request("custodian.node.big.verify", nil, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var first bus.NodeReply
	if err := json.Unmarshal(m.Data, &first); err != nil || len(m.Data) > 32<<10 || first.Part != 1 || first.Parts < 2 ||
		first.Total != total || len(first.Commands) == 0 || len(first.Commands) >= total {
		t.Fatalf("node verify, first message: %d bytes, %v: part %d of %d, total %d, %d commands", len(m.Data), err, first.Part, first.Parts, first.Total, len(first.Commands))
	}
}
