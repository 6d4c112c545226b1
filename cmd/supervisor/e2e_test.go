package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// This file tests the supervisor binary as an operator meets it: built with
// go build, started as a child process, used with the real nats CLI exactly
// as the README shows, stopped with SIGTERM.

func natsCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nats")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the nats CLI is required in CI (.ci/run installs it): %v", err)
		}
		t.Skip("nats CLI not installed: go install github.com/nats-io/natscli/nats@v0.5.0")
	}
	return p
}

func buildSupervisor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "supervisor")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type operator struct {
	t      *testing.T
	onFail func() string // more to print when a request fails
	nats   string
	url    string
	home   string
}

// run runs the nats CLI and returns its stdout; err covers a non-zero exit.
func (o operator) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.nats, append([]string{"--server", o.url}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+o.home, "NATS_URL=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("nats %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	// nats req prints "No responders are available" and still exits 0.
	if strings.Contains(stderr.String(), "No responders") {
		return stdout.String(), fmt.Errorf("nats %s: no responders: %s", strings.Join(args, " "), stderr.String())
	}
	if os.Getenv("E2E_DEBUG") != "" {
		o.t.Logf("nats %v\nstdout=%q\nstderr=%q", args, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func (o operator) req(subject, body string) map[string]any {
	o.t.Helper()
	out, err := o.run("req", "--raw", "--timeout", "20s", subject, body)
	if err != nil {
		o.t.Fatalf("%v\n%s", err, o.onFail())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &m); err != nil {
		o.t.Fatalf("nats req %s %s: reply is not JSON: %q\n%s", subject, body, out, o.onFail())
	}
	return m
}

type child struct {
	cmd  *exec.Cmd
	done chan error
	logs *bytes.Buffer
}

func startSupervisor(t *testing.T, bin string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NATS_URL=")
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1), logs: logs}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

func (c *child) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("supervisor exited with %v after SIGTERM; logs:\n%s", err, c.logs)
		}
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		t.Fatalf("supervisor did not exit within 60s of SIGTERM; logs:\n%s", c.logs)
	}
}

func waitReady(t *testing.T, o operator, node string, c *child) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := o.run("req", "--raw", "--timeout", "1s", "custodian.node."+node+".status", ""); err == nil {
			return
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

func TestBinaryWithNatsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	natsBin := natsCLI(t)
	bin := buildSupervisor(t)
	data := t.TempDir()
	natsPort, dashPort := freePort(t), freePort(t)
	args := []string{"--data", data, "--node", "e2e", "--tables", "users,orders",
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort),
		"--dashboard", fmt.Sprintf("127.0.0.1:%d", dashPort), "--dashboard-max-streams", "1"}
	sup := startSupervisor(t, bin, args...)
	o := operator{t: t, nats: natsBin, url: fmt.Sprintf("nats://127.0.0.1:%d", natsPort), home: t.TempDir()}
	o.onFail = func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		audit, _ := exec.CommandContext(ctx, bin, "audit", "--nats", o.url).CombinedOutput()
		return fmt.Sprintf("supervisor logs:\n%s\naudit:\n%s", sup.logs, audit)
	}
	waitReady(t, o, "e2e", sup)

	// Data plane, as the README shows it.
	if r := o.req("custodian.kv.users.put", `{"key":"alice","value":{"age":41}}`); r["error"] != nil {
		t.Fatalf("put: %v", r)
	}
	if r := o.req("custodian.kv.users.batch", `{"ops":[{"op":"put","key":"bob","value":2},{"op":"delete","key":"nobody"}]}`); r["error"] != nil {
		t.Fatalf("batch: %v", r)
	}
	r := o.req("custodian.kv.users.get", `{"key":"alice"}`)
	if v, _ := r["value"].(map[string]any); v == nil || v["age"] != 41.0 {
		t.Fatalf("get alice: %v", r)
	}
	r = o.req("custodian.kv.users.scan", `{"prefix":"","limit":10}`)
	if items, _ := r["items"].([]any); len(items) != 2 {
		t.Fatalf("scan: %v", r)
	}
	r = o.req("custodian.kv.users.get", `{"key":"nobody"}`)
	if e, _ := r["error"].(map[string]any); e == nil || e["code"] != "not_found" {
		t.Fatalf("get missing key: %v", r)
	}

	// Commands, waiting for the outcome.
	r = o.req("custodian.cmd.users.backup", `{"wait":true}`)
	if r["accepted"] != true || r["result"] != "ok" || r["command_id"] == "" {
		t.Fatalf("backup: %v", r)
	}
	r = o.req("custodian.cmd.users.compact", `{"wait":true,"force":true,"mode":"rewrite"}`)
	if r["result"] != "ok" {
		t.Fatalf("compact: %v", r)
	}
	r = o.req("custodian.cmd.users.verify", `{"wait":true}`)
	if r["result"] != "ok" {
		t.Fatalf("verify: %v", r)
	}
	r = o.req("custodian.node.e2e.create", `{"table":"later"}`)
	if r["error"] != nil {
		t.Fatalf("node create: %v", r)
	}
	if r := o.req("custodian.kv.later.put", `{"key":"k","value":true}`); r["error"] != nil {
		t.Fatalf("put on created table: %v", r)
	}

	// A table nobody owns: no responders, at once.
	if _, err := o.run("req", "--timeout", "2s", "custodian.kv.nosuch.get", `{"key":"a"}`); err == nil ||
		!strings.Contains(strings.ToLower(err.Error()), "no responders") {
		t.Fatalf("unowned table: want no responders, got %v", err)
	}

	// The services and the stream are visible to the stock CLI.
	out, err := o.run("service", "ls")
	if err != nil || !strings.Contains(out, "custodian") {
		t.Fatalf("service ls: %v\n%s", err, out)
	}
	out, err = o.run("stream", "info", "CUSTODIAN_EVENTS", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		State struct {
			Msgs uint64 `json:"messages"`
		} `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil || info.State.Msgs == 0 {
		t.Fatalf("stream info: %v %s", err, out)
	}

	// The dashboard is up in the one-command mode.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", dashPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("dashboard healthz: %d", resp.StatusCode)
	}
	// It takes its limits from --dashboard-*: one live-update client, a
	// second one is refused.
	streamURL := fmt.Sprintf("http://127.0.0.1:%d/api/stream", dashPort)
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	sreq, err := http.NewRequestWithContext(sctx, http.MethodGet, streamURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	live, err := http.DefaultClient.Do(sreq)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Body.Close()
	refused, err := http.Get(streamURL)
	if err != nil {
		t.Fatal(err)
	}
	refused.Body.Close()
	if live.StatusCode != http.StatusOK || refused.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("--dashboard-max-streams 1: first stream %d, second %d", live.StatusCode, refused.StatusCode)
	}
	// Its metrics include the supervisor's outbox depth.
	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", dashPort))
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.Contains(string(metrics), "custodian_outbox_depth ") ||
		!strings.Contains(string(metrics), "custodian_events_total") {
		t.Fatalf("metrics lack the outbox depth or event counters: %v\n%.2000s", err, metrics)
	}

	// The audit log replays what happened.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	audit, err := exec.CommandContext(ctx, bin, "audit", "--nats", o.url, "--table", "users", "--type", "backup.").Output()
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(audit))
	types := map[string]int{}
	for sc.Scan() {
		var e struct{ Type, Table string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line is not JSON: %q", sc.Text())
		}
		if e.Table != "users" || !strings.HasPrefix(e.Type, "backup.") {
			t.Fatalf("audit filter let through %+v", e)
		}
		types[e.Type]++
	}
	if types["backup.started"] != 1 || types["backup.completed"] != 1 {
		t.Fatalf("audit: %v\n%s", types, audit)
	}

	// Someone deletes the audit stream: the supervisor creates it again
	// and the events that follow reach it; SIGTERM still ends it cleanly
	// (its dashboard's consumer was stuck on the deleted stream once).
	if _, err := o.run("stream", "rm", "CUSTODIAN_EVENTS", "-f"); err != nil {
		t.Fatal(err)
	}
	r = o.req("custodian.cmd.users.backup", `{"wait":true}`)
	if r["result"] != "ok" {
		t.Fatalf("backup after the stream was deleted: %v", r)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := exec.Command(bin, "audit", "--nats", o.url, "--table", "users", "--type", "backup.completed").Output()
		if err == nil && strings.Count(string(out), "backup.completed") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream was not recreated with the new events: %v\n%s\n%s", err, out, sup.logs)
		}
		time.Sleep(500 * time.Millisecond)
	}

	sup.stop(t)

	// Everything acknowledged is there after a restart.
	sup = startSupervisor(t, bin, args...)
	waitReady(t, o, "e2e", sup)
	r = o.req("custodian.kv.users.get", `{"key":"bob"}`)
	if r["value"] != 2.0 {
		t.Fatalf("after restart, get bob: %v", r)
	}
	sup.stop(t)
}

// A part of the one-command mode that cannot start (here the dashboard's
// port is taken) stops the supervisor with its reason, rather than leaving
// it running without the part.
func TestBinaryStopsWhenTheDashboardCannotListen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildSupervisor(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--data", t.TempDir(), "--tables", "t",
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--dashboard", taken.Addr().String())
	cmd.Env = append(os.Environ(), "NATS_URL=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("still running after 60s with its dashboard port taken:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d (%v), want 1:\n%s", code, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "supervisor: dashboard: ") || !strings.Contains(last, "address already in use") ||
		strings.Contains(last, "dashboard: dashboard:") {
		t.Fatalf("last line should give the reason once: %q", last)
	}
}
