package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// backupIDs are the ids of the backups of table in root.
func backupIDs(t *testing.T, root, table string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, "backups", table))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// TestQueuedMaintenanceEndsRejectedWhenTheTableDegrades: commands queued
// behind a running backup when the table then degrades do not run and do not
// end with a *.failed (which would page operators once per command): each
// ends with command.rejected, data.code table_unavailable, and its ticket is
// done with that outcome. A queued salvage is kept and runs.
func TestQueuedMaintenanceEndsRejectedWhenTheTableDegrades(t *testing.T) {
	g := newGate(tables.FPBackupAfterVerify)
	var armed atomic.Bool // the gate holds only the backups after the first
	h := start(t, harnessOpt{failpoint: func(name string) {
		if armed.Load() {
			g.failpoint(name)
		}
	}})
	defer g.open()
	tb := h.open("users")
	fill(t, tb, 40, 1)
	// A manual restore leaves a quarantined copy (the data it replaced):
	// without one a salvage is refused at Submit.
	b0 := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{}))
	if b0.Type != events.BackupCompleted {
		t.Fatalf("first backup: %s (%s)", b0.Type, b0.Error)
	}
	if e := h.wait(h.submit("users", events.VerbRestore, events.CommandBody{})); e.Type != events.RestoreCompleted {
		t.Fatalf("manual restore: %s (%s)", e.Type, e.Error)
	}
	armed.Store(true)

	// The running backup: held after its verify; its backup will be damaged
	// so that the restore finds no good backup.
	b := h.submit("users", events.VerbBackup, events.CommandBody{})
	g.await(t, 1)
	queued := []*Ticket{
		h.submit("users", events.VerbVerify, events.CommandBody{}),
		h.submit("users", events.VerbCompact, events.CommandBody{Force: true, Mode: "native"}),
		h.submit("users", events.VerbBackup, events.CommandBody{}),
	}
	// An operator's verify joins the queued one: its ticket ends the same way.
	joined := h.submit("users", events.VerbVerify, events.CommandBody{})
	if joined.Coalesced() != queued[0].ID() {
		t.Fatalf("second verify did not coalesce")
	}
	// Scheduled work, queued without command.accepted.
	sched, err := h.sup.submit(context.Background(), Command{Table: "users", Verb: events.VerbCompact, Trigger: events.TriggerSchedule}, false)
	if err != nil {
		t.Fatal(err)
	}
	// A salvage (force: the table still serves) queued behind them.
	salv := h.submit("users", events.VerbSalvage, events.CommandBody{Force: true})

	ids := backupIDs(t, h.root, "users")
	if len(ids) != 2 {
		t.Fatalf("backups of users: %v, want two", ids)
	}
	for _, id := range ids {
		flip(t, dataFile(t, filepath.Join(h.root, "backups", "users", id)), 200)
	}
	corrupt := lerrors.NewErrCorrupted(storage.FileDesc{Type: storage.TypeTable, Num: 9}, errors.New("checksum mismatch"))
	h.sup.CorruptionHandler()("users", "get", corrupt)
	g.open()

	if e := h.wait(b); e.Type != events.BackupCompleted {
		t.Fatalf("running backup: %s (%s)", e.Type, e.Error)
	}
	h.rec.waitType(t, "users", events.TableDegraded, 1)

	for _, tk := range append(queued, joined, sched) {
		e := h.wait(tk)
		if e.Type != events.CommandRejected || e.Data["code"] != string(apierr.TableUnavailable) {
			t.Errorf("queued command %s: outcome %s %v, want command.rejected with code table_unavailable", short(tk.ID()), e.Type, e.Data)
		}
		if r, _ := e.Data["reason"].(string); !strings.Contains(r, "degraded") {
			t.Errorf("command.rejected reason %q does not say the table is degraded", r)
		}
		if apierr.CodeOf(tk.Err()) != apierr.TableUnavailable {
			t.Errorf("ticket error %v, want table_unavailable", tk.Err())
		}
	}
	if e := h.wait(joined); e.CommandID != queued[0].ID() {
		t.Errorf("coalesced ticket outcome is for command %s, want %s", e.CommandID, queued[0].ID())
	}

	rej := h.rec.of("users", events.CommandRejected)
	byID := map[string]events.Event{}
	for _, e := range rej {
		byID[e.CommandID] = e
	}
	for _, tk := range queued {
		e, ok := byID[tk.ID()]
		if !ok {
			t.Errorf("no command.rejected emitted for accepted command %s", short(tk.ID()))
			continue
		}
		if e.Trigger != events.TriggerManual || e.Error == "" || e.Data["verb"] == nil {
			t.Errorf("command.rejected trigger %s error %q data %v", e.Trigger, e.Error, e.Data)
		}
	}
	if _, ok := byID[sched.ID()]; ok {
		t.Errorf("scheduled work emitted command.rejected (it never emitted command.accepted)")
	}
	if len(rej) != len(queued) {
		t.Errorf("%d command.rejected, want %d:\n%s", len(rej), len(queued), dump(rej))
	}

	// Nothing that pages came from the queued work.
	if f := h.rec.of("users", events.VerifyFailed, events.BackupFailed, events.CompactionFailed, events.CompactionSkipped); len(f) != 0 {
		t.Errorf("queued work on a degraded table ended with:\n%s", dump(f))
	}
	if n := len(h.rec.of("users", events.CompactionStarted, events.VerifyCompleted)); n != 0 {
		t.Errorf("queued work ran on a degraded table")
	}
	// table.degraded comes before the rejections it caused.
	order := h.rec.of("users", events.TableDegraded, events.CommandRejected)
	if order[0].Type != events.TableDegraded {
		t.Errorf("first of table.degraded/command.rejected is %s", order[0].Type)
	}

	// The salvage was kept and brings the table back.
	if e := h.wait(salv); e.Type != events.TableRecovered {
		t.Fatalf("queued salvage: %s (%s)", e.Type, e.Error)
	}
	if ok, why := tb.Available(); !ok {
		t.Fatalf("table after salvage: %s", why)
	}
	st, err := h.sup.Status(context.Background(), "users")
	if err != nil || st.Queue != 0 || strings.Contains(st.LastError, "not run") {
		t.Errorf("status after: %+v %v", st, err)
	}
}

// TestJobTakenWhileTheTableDoesNotServeIsRefused: a compact, backup or
// verify that reaches the head of its queue while its table does not serve
// (here: made unavailable between Submit and Run) is refused with
// command.rejected, not run into a *.failed.
func TestJobTakenWhileTheTableDoesNotServeIsRefused(t *testing.T) {
	h := start(t, harnessOpt{noRun: true})
	tb := h.open("users")
	fill(t, tb, 20, 1)
	var tks []*Ticket
	for _, verb := range []string{events.VerbVerify, events.VerbBackup, events.VerbCompact} {
		tks = append(tks, h.submit("users", verb, events.CommandBody{Force: true}))
	}
	tb.SetUnavailable(tables.ReasonRestoring)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.sup.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for _, tk := range tks {
		e := h.wait(tk)
		if e.Type != events.CommandRejected || e.Data["code"] != string(apierr.TableUnavailable) || e.Data["reason"] != "table restoring" {
			t.Errorf("outcome %s %v, want command.rejected table_unavailable (table restoring)", e.Type, e.Data)
		}
		if apierr.CodeOf(tk.Err()) != apierr.TableUnavailable {
			t.Errorf("ticket error %v", tk.Err())
		}
	}
	if f := h.rec.of("users", events.VerifyFailed, events.BackupFailed, events.CompactionFailed, events.CompactionSkipped); len(f) != 0 {
		t.Errorf("work on a table that does not serve ended with:\n%s", dump(f))
	}
	if n := len(h.rec.of("users", events.CommandRejected)); n != len(tks) {
		t.Errorf("%d command.rejected, want %d", n, len(tks))
	}
	if err := tb.SetAvailable(); err != nil {
		t.Fatal(err)
	}
	if e := h.wait(h.submit("users", events.VerbVerify, events.CommandBody{})); e.Type != events.VerifyCompleted {
		t.Errorf("verify once the table serves: %s (%s)", e.Type, e.Error)
	}
}
