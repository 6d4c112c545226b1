package bus

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

func TestEnsureStreamCreatesTheStatsStream(t *testing.T) {
	js := startJS(t)
	ctx := withTimeout(t, 10*time.Second)
	if _, err := EnsureStream(ctx, js, StreamConfig{Prefix: "acme", Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, events.StatsStreamName)
	if err != nil {
		t.Fatal(err)
	}
	c := st.CachedInfo().Config
	if len(c.Subjects) != 1 || c.Subjects[0] != "acme.stats.>" || c.MaxMsgsPerSubject != DefaultStatsKeep || c.Storage != jetstream.FileStorage {
		t.Fatalf("stats stream config: subjects %v, per subject %d, storage %v", c.Subjects, c.MaxMsgsPerSubject, c.Storage)
	}
	if _, err := EnsureStream(ctx, js, StreamConfig{Prefix: "acme", StatsKeep: 3}); err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxMsgsPerSubject != 3 {
		t.Fatalf("stats_keep not applied: %d", info.Config.MaxMsgsPerSubject)
	}
	if _, err := EnsureStream(ctx, js, StreamConfig{StatsKeep: -1}); err == nil {
		t.Fatal("stats_keep -1 accepted")
	}
}

// A CUSTODIAN_EVENTS made by an older version (it held table.stats) is
// taken as it is; table.stats from now on go to CUSTODIAN_STATS, every
// other event still to CUSTODIAN_EVENTS, and the stats stream keeps
// stats_keep of each table.
func TestOutboxSendsStatsToTheStatsStream(t *testing.T) {
	js := startJS(t)
	ctx := withTimeout(t, 30*time.Second)
	old, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: events.StreamName, Subjects: []string{"custodian.events.>"}, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "custodian.events.n1.users.table.stats", []byte(`{"id":"old","type":"table.stats"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureStream(ctx, js, StreamConfig{StatsKeep: 2}); err != nil {
		t.Fatalf("an existing event stream: %v", err)
	}
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox"))
	runOutbox(t, o, js)
	for i := range 3 {
		e := events.New(events.TableStats, "n1", "users")
		e.Data = map[string]any{"bytes": i}
		if err := o.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Emit(ctx, testEvent(1)); err != nil {
		t.Fatal(err)
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := old.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("event stream holds %d messages, want the old stats and the one event", info.State.Msgs)
	}
	stats, err := js.Stream(ctx, events.StatsStreamName)
	if err != nil {
		t.Fatal(err)
	}
	sinfo, err := stats.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sinfo.State.Msgs != 2 || sinfo.State.LastSeq != 3 {
		t.Fatalf("stats stream: %d messages up to %d, want the last 2 of 3", sinfo.State.Msgs, sinfo.State.LastSeq)
	}
	m, err := stats.GetLastMsgForSubject(ctx, "custodian.stats.n1.users")
	if err != nil {
		t.Fatal(err)
	}
	e, err := events.Unmarshal(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := events.Integer(e.Data, "bytes"); b != 2 {
		t.Fatalf("last stats of users has bytes %d, want 2", b)
	}

	// supervisor audit --type table.stats reads the stats stream; the
	// audit of everything else does not show them.
	got := auditLines(t, js, AuditFilter{TypePrefix: events.TableStats, Table: "users"})
	if len(got) != 2 || got[1].ID != e.ID {
		t.Fatalf("audit of table.stats: %d events, want the 2 kept", len(got))
	}
	if got := auditLines(t, js, AuditFilter{Table: "t1"}); len(got) != 1 || got[0].Type != events.VerifyCompleted {
		t.Fatalf("audit of t1: %v", got)
	}
}
