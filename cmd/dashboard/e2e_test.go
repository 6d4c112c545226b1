package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/natstest"
)

// TestWithTheRealSupervisor runs the real cmd/supervisor and this command
// as two processes on one nats-server: a Compact from the dashboard's API
// reaches the supervisor, and the supervisor's real events come back as the
// card and the history. It checks the two sides agree on the contract.
func TestWithTheRealSupervisor(t *testing.T) {
	dir := t.TempDir()
	sup := filepath.Join(dir, "supervisor")
	if out, err := exec.Command("go", "build", "-o", sup, "../supervisor").CombinedOutput(); err != nil {
		t.Fatalf("go build supervisor: %v\n%s", err, out)
	}
	dash := build(t)
	srv := natstest.Start(t)

	start := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "NATS_URL="+srv.URL())
		logf, err := os.Create(filepath.Join(dir, filepath.Base(name)+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
			}
			logf.Close()
			if t.Failed() {
				b, _ := os.ReadFile(logf.Name())
				t.Logf("%s log:\n%s", filepath.Base(name), b)
			}
		})
	}
	start(sup, "--data", filepath.Join(dir, "data"), "--node", "n1", "--tables", "users")
	addr := freeAddr(t)
	start(dash, "--listen", addr, "--admin-token", "tok")
	base := "http://" + addr

	get := func(path string, out any) int {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil {
			_ = json.Unmarshal(b, out)
		}
		return resp.StatusCode
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The supervisor's table.created makes the card.
	waitFor("the users card", func() bool { return get("/api/tables/users", nil) == 200 })

	// Compact, forced, through the dashboard with the admin token.
	var reply struct {
		CommandID string `json:"command_id"`
		Accepted  bool   `json:"accepted"`
	}
	waitFor("the supervisor to take commands", func() bool {
		req, _ := http.NewRequest("POST", base+"/api/tables/users/compact", strings.NewReader(`{"force":true}`))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return false // 404 while the supervisor's services start
		}
		return json.NewDecoder(resp.Body).Decode(&reply) == nil && reply.Accepted && reply.CommandID != ""
	})

	// Its outcome, from the supervisor, in the history and on the card.
	var rows []map[string]any
	waitFor("the compaction's outcome row", func() bool {
		get("/api/history?table=users&type=compaction", &rows)
		for _, r := range rows {
			if r["command_id"] == reply.CommandID && (r["type"] == "compaction.completed" || r["type"] == "compaction.failed") {
				return true
			}
		}
		return false
	})
	for _, r := range rows {
		if r["command_id"] == reply.CommandID && r["type"] == "compaction.failed" {
			t.Fatalf("the supervisor's compaction failed: %v", r)
		}
	}
	var cards []map[string]any
	waitFor("the card's last compaction", func() bool {
		get("/api/tables/users", &cards)
		if len(cards) != 1 {
			return false
		}
		lc, _ := cards[0]["last_compaction"].(map[string]any)
		return lc != nil && lc["command_id"] == reply.CommandID
	})
	if cards[0]["node"] != "n1" || cards[0]["state"] != "ok" {
		t.Fatalf("card %v", cards[0])
	}
	// A table no supervisor owns: no responders -> 404.
	req, _ := http.NewRequest("POST", base+"/api/tables/ghost/compact", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("ghost table: %d", resp.StatusCode)
	}
}
