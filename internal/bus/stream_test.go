package bus

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

func TestEnsureStreamCreatesWithContractSettings(t *testing.T) {
	js := startJS(t)
	st := ensureStream(t, js)
	info, err := st.Info(withTimeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.Name != events.StreamName || len(c.Subjects) != 1 || c.Subjects[0] != "custodian.events.>" {
		t.Fatalf("name/subjects: %s %v", c.Name, c.Subjects)
	}
	if c.Storage != jetstream.FileStorage {
		t.Errorf("storage %v, want file", c.Storage)
	}
	if c.Duplicates < 2*time.Minute {
		t.Errorf("duplicate window %s < 2m", c.Duplicates)
	}
	if !c.DenyDelete || !c.DenyPurge {
		t.Errorf("deny delete %v, deny purge %v", c.DenyDelete, c.DenyPurge)
	}
	if c.MaxAge != DefaultStreamMaxAge || c.MaxBytes != DefaultStreamMaxBytes {
		t.Errorf("limits: age %s bytes %d", c.MaxAge, c.MaxBytes)
	}
}

func TestEnsureStreamUpdatesLimitsAndKeepsData(t *testing.T) {
	js := startStream(t)
	ctx := withTimeout(t, 10*time.Second)
	if _, err := js.Publish(ctx, "custodian.events.n1._.table.stats", []byte(`{"id":"x","type":"table.stats"}`)); err != nil {
		t.Fatal(err)
	}
	st, err := EnsureStream(ctx, js, StreamConfig{MaxAge: 24 * time.Hour, MaxBytes: 1 << 20, MaxMsgs: 1000, Duplicates: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxAge != 24*time.Hour || info.Config.MaxBytes != 1<<20 || info.Config.MaxMsgs != 1000 || info.Config.Duplicates != 5*time.Minute {
		t.Fatalf("not updated: %+v", info.Config)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("update lost data: %d msgs", info.State.Msgs)
	}
}

func TestEnsureStreamRefusesBadConfig(t *testing.T) {
	js := startJS(t)
	ctx := withTimeout(t, 10*time.Second)
	for name, cfg := range map[string]StreamConfig{
		"short duplicate window": {Duplicates: time.Minute},
		"bad prefix":             {Prefix: "a.>"},
		"replicas":               {Replicas: 7},
		"negative age":           {MaxAge: -time.Hour},
	} {
		if _, err := EnsureStream(ctx, js, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := js.Stream(ctx, events.StreamName); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("a refused config created the stream: %v", err)
	}
}

func TestStreamDeniesDeleteAndPurge(t *testing.T) {
	js := startJS(t)
	st := ensureStream(t, js)
	ctx := withTimeout(t, 10*time.Second)
	for i := range 3 {
		e := testEvent(i)
		b, _ := e.Marshal()
		if _, err := js.Publish(ctx, events.Subject("custodian", e), b, jetstream.WithMsgID(e.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteMsg(ctx, 2); err == nil {
		t.Error("delete of message 2 was allowed")
	}
	if err := st.SecureDeleteMsg(ctx, 2); err == nil {
		t.Error("secure delete of message 2 was allowed")
	}
	if err := st.Purge(ctx); err == nil {
		t.Error("purge was allowed")
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("stream has %d messages, want 3", info.State.Msgs)
	}
}

func TestEnsureStreamWaitsForJetStream(t *testing.T) {
	// The server comes up a moment after EnsureStream starts: the client
	// connects with retry and EnsureStream keeps trying within ctx.
	port := natstest.FreePorts(t, 1)[0]
	store := t.TempDir()
	o := ConnOptions{URL: "nats://127.0.0.1:" + itoa(port)}
	nc, err := natsConnectRetry(o)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := newJS(t, nc)
	started := make(chan struct{})
	go func() {
		time.Sleep(500 * time.Millisecond)
		runJS(t, store, port)
		close(started)
	}()
	ctx := withTimeout(t, 20*time.Second)
	if _, err := EnsureStream(ctx, js, StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	<-started
}

func TestEnsureStreamLocksAnOpenStream(t *testing.T) {
	// A stream someone made by hand, deletable and purgeable, with a short
	// duplicate window: EnsureStream brings it to the contract.
	js := startJS(t)
	ctx := withTimeout(t, 10*time.Second)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: events.StreamName, Subjects: []string{"custodian.events.>"}, Storage: jetstream.FileStorage,
		Duplicates: 10 * time.Second,
	}); err != nil {
		t.Fatal(err)
	}
	st, err := EnsureStream(ctx, js, StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Config.DenyDelete || !info.Config.DenyPurge || info.Config.Duplicates != DefaultStreamDuplicates {
		t.Fatalf("not locked: %+v", info.Config)
	}
	if err := st.Purge(ctx); err == nil {
		t.Fatal("purge allowed after EnsureStream")
	}
}

func TestEnsureStreamRefusesAMemoryStream(t *testing.T) {
	js := startJS(t)
	ctx := withTimeout(t, 10*time.Second)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: events.StreamName, Subjects: []string{"custodian.events.>"}, Storage: jetstream.MemoryStorage,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureStream(ctx, js, StreamConfig{}); err == nil {
		t.Fatal("a memory stream was accepted as the audit log")
	} else {
		t.Logf("refused: %v", err)
	}
}

// nats-server removes an account's empty store directory in a goroutine
// after its last stream is deleted; a create at that moment fails with
// "error creating store for stream" (10049). About 1 create in 170 lost
// that race here before EnsureStream tried again, so 500 rounds fail
// without the retry nearly every time.
func TestEnsureStreamRightAfterTheStreamWasDeleted(t *testing.T) {
	js := startStream(t)
	ctx := withTimeout(t, 120*time.Second)
	for i := range 500 {
		if err := js.DeleteStream(ctx, events.StreamName); err != nil {
			t.Fatal(err)
		}
		if _, err := EnsureStream(ctx, js, StreamConfig{}); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}
