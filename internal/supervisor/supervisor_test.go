package supervisor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

func TestWorkSubmittedBeforeRunWaitsForIt(t *testing.T) {
	rec := newRecorder()
	sup, err := Open(t.TempDir(), tables.Options{}, rec, Config{Node: "n1", Defaults: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	var added []string
	sup.OnTableAdded(func(name string) { added = append(added, name) })
	if err := sup.OpenTable(context.Background(), "users", true); err != nil {
		t.Fatal(err)
	}
	if len(added) != 1 || added[0] != "users" {
		t.Errorf("OnTableAdded saw %v", added)
	}
	tk, err := sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbVerify})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	select {
	case <-tk.Done():
	case <-time.After(waitLimit):
		t.Fatal("queued verify never ran")
	}
	if tk.Outcome().Type != events.VerifyCompleted {
		t.Errorf("outcome %s", tk.Outcome().Type)
	}
	if err := sup.Run(ctx); err == nil {
		t.Errorf("second Run accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestShutdownEndsQueuedCommands(t *testing.T) {
	g := newGate(tables.FPBackupBeforeCopy)
	h := start(t, harnessOpt{failpoint: g.failpoint, cfg: Config{ShutdownGrace: time.Millisecond}})
	defer g.open()
	fill(t, h.open("users"), 20, 1)
	b := h.submit("users", events.VerbBackup, events.CommandBody{})
	g.await(t, 1)
	v := h.submit("users", events.VerbVerify, events.CommandBody{})

	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	for {
		h.sup.mu.Lock()
		st := h.sup.state
		h.sup.mu.Unlock()
		if st >= stateStopping {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbCompact}); err == nil {
		t.Errorf("a command was accepted while stopping")
	}
	g.open()
	select {
	case <-stopped:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
	}
	<-b.Done()
	<-v.Done()
	// Not run, so refused, not failed: a *.failed would page operators for
	// every command queued at a restart.
	if e := v.Outcome(); e.Type != events.CommandRejected || e.Data["reason"] != "shutdown" || e.CommandID != v.ID() ||
		e.Data["code"] != string(apierr.Internal) || e.Data["verb"] != events.VerbVerify {
		t.Errorf("queued verify at shutdown: %s %v", e.Type, e.Data)
	}
	if !errors.Is(v.Err(), errStopping) || apierr.CodeOf(v.Err()) != apierr.Internal {
		t.Errorf("ticket error %v", v.Err())
	}
	n := 0
	for _, e := range h.rec.of("users", events.CommandRejected) {
		if e.CommandID == v.ID() {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the accepted verify has %d outcome events, want 1", n)
	}
	if n := len(h.rec.of("users", events.VerifyFailed)); n != 0 {
		t.Errorf("a verify that never ran ended with verify.failed")
	}
}
