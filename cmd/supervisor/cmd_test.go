package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// cmdNode is a supervisor node wired as run does it (embedded server,
// stream, outbox, supervisor, services) with a tables failpoint, and an
// operator's connection over TCP.
func cmdNode(t *testing.T, failpoint func(string), table string) (*supervisor.Supervisor, *nats.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := t.TempDir()
	srv, err := bus.StartEmbedded(ctx, bus.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: filepath.Join(data, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	nc, err := srv.Connect(ctx, "supervisor")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	outbox, err := bus.OpenOutbox(filepath.Join(data, "outbox"), bus.OutboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outbox.Close() })
	pubCtx, stopPub := context.WithCancel(context.Background())
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); _ = outbox.Run(pubCtx, js) }()
	t.Cleanup(func() { stopPub(); <-pubDone })

	never := supervisor.Policy{CompactEvery: -1, BackupEvery: -1, VerifyEvery: -1, StatsEvery: -1}
	sup, err := supervisor.Open(filepath.Join(data, "store"), tables.Options{Failpoint: failpoint}, outbox,
		supervisor.Config{Node: "n1", Defaults: never})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.OpenTable(ctx, table, true); err != nil {
		t.Fatal(err)
	}
	runCtx, stopSup := context.WithCancel(context.Background())
	supDone := make(chan error, 1)
	go func() { supDone <- sup.Run(runCtx) }()
	t.Cleanup(func() {
		if err := sup.Close(); err != nil {
			t.Errorf("supervisor close: %v", err)
		}
	})
	t.Cleanup(func() {
		stopSup()
		if err := <-supDone; err != nil {
			t.Errorf("supervisor run: %v", err)
		}
	})
	svc, err := bus.StartServices(nc, sup, bus.ServicesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Stop(sctx); err != nil {
			t.Errorf("services stop: %v", err)
		}
	})
	client, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return sup, client, srv.ClientURL()
}

// A person who runs "supervisor cmd big backup" sees the backup's progress
// while the backup runs (held here after its copy, its figures reported),
// then the outcome.
func TestCmdShowsProgressWhileItWaits(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open()
	hold := func(name string) {
		if name == tables.FPBackupAfterCopy {
			arrived <- struct{}{}
			<-release
		}
	}
	sup, client, _ := cmdNode(t, hold, "big")
	tb, err := sup.Table("big")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var ops []tables.Op
	for i := range 500 {
		ops = append(ops, tables.Op{Op: "put", Key: fmt.Sprintf("k%04d", i), Value: json.RawMessage(`"v"`)})
	}
	if err := tb.Batch(ctx, ops); err != nil {
		t.Fatal(err)
	}

	stderr := &lockedBuffer{}
	type result struct {
		rep bus.CmdReply
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := command(ctx, client, events.DefaultPrefix, "big", events.VerbBackup, events.CommandBody{}, &progressBar{w: stderr})
		done <- result{rep, err}
	}()
	select {
	case <-arrived:
	case <-ctx.Done():
		t.Fatal("the backup never reached the end of its copy")
	}
	for !strings.Contains(stderr.String(), "big backup [") || !strings.Contains(stderr.String(), "500/500 records") {
		if ctx.Err() != nil {
			t.Fatalf("no progress shown while the backup runs; stderr: %q", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case r := <-done:
		t.Fatalf("the command ended while its backup was held: %+v %v", r.rep, r.err)
	default:
	}
	open()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.rep.Result != events.ResultOK || r.rep.Event == nil || r.rep.Event.Type != events.BackupCompleted || r.rep.Event.Data["records"] != float64(500) {
		t.Fatalf("reply %+v, want backup.completed with 500 records", r.rep)
	}
	if line := strings.TrimSpace(stderr.String()); !strings.HasPrefix(line, "big backup [") || !strings.Contains(line, "100%") {
		t.Errorf("progress output %q", line)
	}
}

// Refusals and a table nobody owns are errors with the reason; status
// answers at once with the table's status.
func TestCmdErrorsAndStatus(t *testing.T) {
	_, client, url := cmdNode(t, nil, "big")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bar := &progressBar{w: &lockedBuffer{}}
	if _, err := command(ctx, client, events.DefaultPrefix, "nobody", events.VerbBackup, events.CommandBody{}, bar); err == nil || !strings.Contains(err.Error(), "no supervisor owns the table") {
		t.Errorf("a table nobody owns: %v", err)
	}
	if _, err := command(ctx, client, events.DefaultPrefix, "big", events.VerbCompact, events.CommandBody{Mode: "sideways"}, bar); err == nil || !strings.Contains(err.Error(), "table big: compact: invalid_request: ") {
		t.Errorf("a bad mode: %v", err)
	}
	rep, err := command(ctx, client, events.DefaultPrefix, "big", events.VerbStatus, events.CommandBody{}, bar)
	if err != nil || rep.Status == nil || rep.Status.Table != "big" {
		t.Errorf("status: %+v %v", rep, err)
	}

	// The whole command line: the reply as JSON on stdout and the exit
	// status of each kind of end.
	for _, c := range []struct {
		args []string
		code int
		out  string // in stdout (ok) or stderr
	}{
		{[]string{"--nats", url, "big", "verify"}, 0, `"type":"verify.completed"`},
		{[]string{"big", "backup", "--nats", url}, 0, `"type":"backup.completed"`},
		{[]string{"--nats", url, "nobody", "verify"}, 1, "no supervisor owns the table"},
		{[]string{"--nats", url, "--mode", "sideways", "big", "compact"}, 1, "invalid_request"},
		{[]string{"--nats", "nats://127.0.0.1:1", "big", "verify"}, exitUnknown, "supervisor cmd: "},
	} {
		var out, errs bytes.Buffer
		code := runCmd(c.args, &out, &errs)
		got := errs.String()
		if code == 0 {
			got = out.String()
		}
		if code != c.code || !strings.Contains(got, c.out) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d and %q", c.args, code, out.String(), errs.String(), c.code, c.out)
		}
	}
}

func TestReadReply(t *testing.T) {
	headerOnly := nats.NewMsg("r")
	headerOnly.Header.Set(micro.ErrorCodeHeader, "503")
	headerOnly.Header.Set(micro.ErrorHeader, "table big is being restored")
	coded := nats.NewMsg("r")
	coded.Header.Set(micro.ErrorCodeHeader, "409")
	coded.Data = []byte(`{"error":{"code":"busy","message":"queue full"}}`)
	for _, c := range []struct {
		msg     *nats.Msg
		err     error
		want    string
		unknown bool
	}{
		{headerOnly, nil, "table big: verify: table big is being restored", false},
		{coded, nil, "table big: verify: busy: queue full", false},
		{nil, nats.ErrNoResponders, "no supervisor owns the table", false},
		{nil, context.DeadlineExceeded, "no outcome within --timeout", true},
		{nil, nats.ErrConnectionClosed, "connection closed", true},
		{&nats.Msg{Data: []byte("not json")}, nil, "reply is not JSON", false},
	} {
		_, err := readReply("big", "verify", "custodian.cmd.big.verify", c.msg, c.err)
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, errUnknownOutcome) != c.unknown {
			t.Errorf("%v %v: got %v, want %q (outcome unknown: %v)", c.msg, c.err, err, c.want, c.unknown)
		}
	}
}

func TestCmdArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"big"},
		{"big", "frob"},
		{"Big!", "backup"},
		{"big", "backup", "extra"},
		{"--timeout", "0s", "big", "backup"},
		{"--prefix", "a.>", "big", "backup"},
		{"--nope", "big", "backup"},
		{"big", "backup", "--mode", "rewrite"},
		{"--backup-id", "x", "big", "compact"},
		{"--force", "big", "verify"},
		{"big", "restore", "--backup-id", ""}, // an unset shell variable
		{"--backup-id=", "big", "restore"},
	} {
		var out, errs bytes.Buffer
		if code := runCmd(args, &out, &errs); code != 2 || !strings.HasPrefix(errs.String(), "supervisor cmd: ") {
			t.Errorf("%q: exit %d, stderr %q, want 2 and a reason", args, code, errs.String())
		}
	}
	var out, errs bytes.Buffer
	if code := runCmd([]string{"--help"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "Usage: supervisor cmd") {
		t.Errorf("--help: exit %d, %q", code, out.String())
	}
}
