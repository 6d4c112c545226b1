package supervisor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

func TestBadCommandsAreRejectedAndChangeNothing(t *testing.T) {
	h := start(t, harnessOpt{})
	tb := h.open("users")
	fill(t, tb, 10, 1)
	ctx := context.Background()

	cases := []struct {
		cmd  Command
		code apierr.Code
	}{
		{Command{Table: "users", Verb: "explode"}, apierr.InvalidRequest},
		{Command{Table: "users", Verb: events.VerbCompact, Body: events.CommandBody{Mode: "turbo"}}, apierr.InvalidRequest},
		{Command{Table: "users", Verb: events.VerbCompact, Trigger: "whim"}, apierr.InvalidRequest},
		{Command{Table: "../etc", Verb: events.VerbCompact}, apierr.InvalidTable},
		{Command{Table: "ghost", Verb: events.VerbBackup}, apierr.NotFound},
		{Command{Table: "users", Verb: events.VerbRestore, Body: events.CommandBody{BackupID: "missing"}}, apierr.NotFound},
		{Command{ID: "not-a-uuid", Table: "users", Verb: events.VerbVerify}, apierr.InvalidRequest},
	}
	for _, c := range cases {
		tk, err := h.sup.Submit(ctx, c.cmd)
		if tk != nil || apierr.CodeOf(err) != c.code {
			t.Errorf("%+v: ticket %v err %v, want %s", c.cmd, tk, err, c.code)
		}
	}
	rej := 0
	for _, e := range h.rec.all() {
		switch e.Type {
		case events.CommandRejected:
			rej++
			if e.Data["code"] == nil || e.Error == "" || e.CommandID == "" {
				t.Errorf("command.rejected without code, error or id: %+v", e)
			}
			if e.Table != "" && !events.ValidTable(e.Table) {
				t.Errorf("command.rejected carries an invalid table %q", e.Table)
			}
		case events.CommandAccepted, events.CompactionStarted, events.BackupStarted:
			t.Errorf("a bad command was accepted: %s", e.Type)
		}
	}
	if rej != len(cases) {
		t.Errorf("%d command.rejected, want %d", rej, len(cases))
	}
	st, _ := h.sup.Status(ctx, "users")
	if st.Queue != 0 || st.Running != "" || st.Stats.Records != 10 {
		t.Errorf("after bad commands: %+v", st)
	}
	if _, err := h.sup.Table("ghost"); apierr.CodeOf(err) != apierr.NotFound {
		t.Errorf("Table(ghost): %v, want not_found", err)
	}
	if err := h.sup.Reject(ctx, Command{Table: "users", Verb: "?"}, apierr.New(apierr.InvalidRequest, "unparsable body")); err != nil {
		t.Errorf("reject: %v", err)
	}
	if got := h.rec.of("users", events.CommandRejected); got[len(got)-1].Data["code"] != string(apierr.InvalidRequest) {
		t.Errorf("Reject: %+v", got[len(got)-1])
	}
}

func TestStatusVerbAndNodeStatus(t *testing.T) {
	h := start(t, harnessOpt{})
	fill(t, h.open("b"), 5, 1)
	fill(t, h.open("a"), 7, 1)
	tk := h.submit("a", events.VerbStatus, events.CommandBody{})
	st, ok := tk.Status()
	if !ok || st.Table != "a" || st.State != StateOK || st.Stats.Records != 7 {
		t.Errorf("status ticket: %+v %v", st, ok)
	}
	if n := len(h.rec.of("a", events.CommandAccepted)); n != 1 {
		t.Errorf("status command: %d command.accepted", n)
	}
	ns := h.sup.NodeStatus(context.Background())
	if ns.Node != "n1" || len(ns.Tables) != 2 || ns.Tables[0].Table != "a" || ns.Tables[1].Table != "b" {
		t.Errorf("node status: %+v", ns)
	}
	if got := h.sup.Tables(); len(got) != 2 || got[0] != "a" {
		t.Errorf("Tables: %v", got)
	}
	if n := len(h.rec.of("a", events.TableCreated)); n != 1 {
		t.Errorf("table.created for a: %d", n)
	}
}

func TestEmitFailuresAreNotIgnored(t *testing.T) {
	h := start(t, harnessOpt{})
	fill(t, h.open("users"), 10, 1)
	down := errors.New("outbox full")
	h.rec.setFail(func(_ context.Context, e events.Event) error {
		if e.Type == events.CommandAccepted {
			return down
		}
		return nil
	})
	_, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbVerify})
	if apierr.CodeOf(err) != apierr.Internal || !errors.Is(err, down) {
		t.Fatalf("submit with a failing emitter: %v, want internal wrapping the emit error", err)
	}
	h.rec.setFail(func(_ context.Context, e events.Event) error {
		if e.Type == events.VerifyCompleted {
			return down
		}
		return nil
	})
	tk := h.submit("users", events.VerbVerify, events.CommandBody{})
	h.wait(tk)
	if !errors.Is(tk.Err(), down) {
		t.Errorf("ticket error %v, want the emit failure", tk.Err())
	}
	if n := len(h.rec.of("users", events.VerifyCompleted)); n != 0 {
		t.Errorf("refused event recorded")
	}
	ns := h.sup.NodeStatus(context.Background())
	if ns.EmitErrors != 2 || ns.LastEmitError == "" {
		t.Errorf("node status: %d emit errors (%q), want 2", ns.EmitErrors, ns.LastEmitError)
	}
}

func TestRunEndsWhileEmitBlocks(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	rec := newRecorder()
	h := start(t, harnessOpt{rec: rec, cfg: Config{ShutdownGrace: 50 * time.Millisecond}})
	fill(t, h.open("users"), 10, 1)
	entered := make(chan struct{}, 1)
	rec.setFail(func(ctx context.Context, e events.Event) error {
		if e.Type == events.VerifyCompleted {
			entered <- struct{}{}
			select { // stuck until its context ends
			case <-block:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	tk := h.submit("users", events.VerbVerify, events.CommandBody{})
	select {
	case <-entered:
	case <-time.After(waitLimit):
		t.Fatal("verify never emitted")
	}
	rec.setFail(nil)
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return while Emit blocked")
	}
	<-tk.Done()
	if tk.Err() == nil {
		t.Errorf("the blocked emit's failure was not reported on the ticket")
	}
}

func TestSubmitReturnsWhenEmitBlocks(t *testing.T) {
	h := start(t, harnessOpt{})
	fill(t, h.open("users"), 5, 1)
	h.rec.setFail(func(ctx context.Context, e events.Event) error {
		<-ctx.Done() // an outbox that never answers
		return ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := h.sup.Submit(ctx, Command{Table: "users", Verb: events.VerbVerify})
	if apierr.CodeOf(err) != apierr.Internal || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("submit with a stuck emitter: %v", err)
	}
	h.rec.setFail(nil)
	st, _ := h.sup.Status(context.Background(), "users")
	if st.Queue != 0 || st.Running != "" {
		t.Errorf("a command whose acceptance was not recorded was queued: %+v", st)
	}
}

func TestOpenTable(t *testing.T) {
	h := start(t, harnessOpt{})
	ctx := context.Background()
	if err := h.sup.OpenTable(ctx, "Bad/Name", true); apierr.CodeOf(err) != apierr.InvalidTable {
		t.Errorf("invalid name: %v", err)
	}
	if err := h.sup.OpenTable(ctx, "ghost", false); err == nil {
		t.Errorf("opening a missing table without create succeeded")
	}
	if _, err := h.sup.Table("ghost"); apierr.CodeOf(err) != apierr.NotFound {
		t.Errorf("a table that failed to open is owned: %v", err)
	}
	h.open("users")
	h.open("users") // again: nothing happens
	if n := len(h.rec.of("users", events.TableCreated)); n != 1 {
		t.Errorf("%d table.created for one table", n)
	}
	if e := h.rec.of("users", events.TableCreated)[0]; e.Trigger != events.TriggerManual {
		t.Errorf("table.created after Run: trigger %s", e.Trigger)
	}
}
