package main

import (
	"bufio"
	"context"
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

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// build compiles the command once per test.
func build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dashboard")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestFlags(t *testing.T) {
	bin := build(t)
	cases := []struct {
		name   string
		args   []string
		env    []string
		ok     bool
		stderr string
	}{
		{"help", []string{"--help"}, nil, true, ""},
		{"bad flag", []string{"--bogus"}, nil, false, "dashboard: flag provided but not defined: -bogus"},
		{"no nats", []string{"--listen", "127.0.0.1:0"}, []string{"NATS_URL="}, false, "dashboard: no NATS URL: give --nats or set NATS_URL"},
		{"bad prefix", []string{"--nats", "nats://127.0.0.1:1", "--prefix", "a b"}, nil, false, `dashboard: --prefix "a b" is not a subject prefix`},
		{"cert without key", []string{"--nats", "nats://127.0.0.1:1", "--nats-cert", "x.pem"}, nil, false, "dashboard: --nats-cert and --nats-key go together"},
		{"extra argument", []string{"--nats", "nats://127.0.0.1:1", "serve"}, nil, false, `dashboard: unexpected argument "serve"`},
		{"zero max streams", []string{"--nats", "nats://127.0.0.1:1", "--max-streams", "0"}, nil, false, "dashboard: --max-streams must be above zero"},
		{"zero read timeout", []string{"--nats", "nats://127.0.0.1:1", "--read-timeout", "0s"}, nil, false, "dashboard: --read-timeout must be above zero"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, c.args...)
			cmd.Env = append(os.Environ(), c.env...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if c.ok != (err == nil) {
				t.Fatalf("exit %v, stderr %q", err, stderr.String())
			}
			if c.ok && !strings.Contains(stdout.String(), "Usage: dashboard") {
				t.Fatalf("--help must print the usage on stdout, got %q", stdout.String())
			}
			if !c.ok && cmd.ProcessState.ExitCode() != 2 {
				t.Fatalf("bad flags must exit 2, got %d", cmd.ProcessState.ExitCode())
			}
			if !strings.Contains(stderr.String(), c.stderr) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), c.stderr)
			}
			if !c.ok && strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Fatalf("error is not one line: %q", stderr.String())
			}
		})
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestServesAndStopsOnSIGTERM(t *testing.T) {
	bin := build(t)
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	natstest.CreateStream(ctx, t, js, "acme.custodian")
	natstest.MustPublish(ctx, t, js, "acme.custodian", events.New(events.TableCreated, "n1", "users"))

	addr := freeAddr(t)
	cmd := exec.Command(bin, "--listen", addr, "--prefix", "acme.custodian", "--admin-token", "tok")
	cmd.Env = append(os.Environ(), "NATS_URL="+srv.URL())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/tables/users")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				body = string(b)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dashboard never served the users card: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(body, `"table":"users"`) {
		t.Fatalf("card %s", body)
	}
	resp, err := http.Post("http://"+addr+"/api/tables/users/compact", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("POST without the token: %d", resp.StatusCode)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			var rest []string
			for l := range lines {
				rest = append(rest, l)
			}
			t.Fatalf("exit after SIGTERM: %v %s", err, fmt.Sprint(rest))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
