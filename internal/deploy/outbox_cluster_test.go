package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// TestClusterOutboxHoldsEventsWithoutQuorum: two of the three servers go
// away, so the R3 stream has no quorum and stores nothing; the supervisor
// keeps answering commands (through the remaining server) and keeps their
// events in its outbox; when the servers come back every event is stored
// once, in order.
func TestClusterOutboxHoldsEventsWithoutQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster and restarts two of them")
	}
	supBin := buildBinary(t, "./cmd/supervisor")
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The test's client talks to s1 only, the server that stays.
	nc, js := connectJS(t, c.URL(0), nats.MaxReconnects(-1))
	sup := startProc(t, "supervisor nq", supBin, nil, "--nats", c.URLs, "--data", filepath.Join(t.TempDir(), "nq"),
		"--node", "nq", "--tables", "q1", "--dashboard", "off", "--replicas", "3")
	waitSupervisorAnswers(t, ctx, nc, sup, "nq")
	for i := 0; i < 100; i++ {
		if err := request(ctx, nc, "custodian.kv.q1.put", map[string]any{"key": fmt.Sprintf("k%d", i%10), "value": i}, nil); err != nil {
			t.Fatal(err)
		}
	}

	c.Stop(1)
	c.Stop(2)
	t.Log("s2 and s3 stopped: CUSTODIAN_EVENTS has no quorum")
	// If the supervisor was connected to s2 or s3 it reconnects to s1.
	waitFor(t, 30*time.Second, "supervisor reachable through s1", func() (bool, string) {
		rctx, cl := context.WithTimeout(ctx, time.Second)
		defer cl()
		err := request(rctx, nc, "custodian.node.nq.status", nil, nil)
		return err == nil, fmt.Sprint(err)
	})
	var replies []commandReply
	for i := 0; i < 3; i++ {
		for _, verb := range []string{"compact", "backup"} {
			var rep commandReply
			rctx, cl := context.WithTimeout(ctx, 20*time.Second)
			err := request(rctx, nc, "custodian.cmd.q1."+verb, map[string]any{"wait": true, "force": true}, &rep)
			cl()
			if err != nil || rep.Error != nil || rep.Event == nil {
				t.Fatalf("%s without quorum: the supervisor stopped working: %v %+v", verb, err, rep.Error)
			}
			replies = append(replies, rep)
		}
	}
	// The stream really cannot store anything now.
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
	_, perr := js.Publish(pctx, "custodian.events.probe._.quorum", []byte(`{}`))
	pcancel()
	if perr == nil {
		t.Fatal("a publish to CUSTODIAN_EVENTS succeeded with two of three servers down")
	}
	t.Logf("publish without quorum: %v", perr)

	c.Start(1)
	c.Start(2)
	t.Log("s2 and s3 started again")
	evs := waitRepliesStored(t, ctx, js, 90*time.Second, 10*time.Second, "the outbox's events reach the stream", replies)
	seqOf := map[string]uint64{}
	count := map[string]int{}
	for _, e := range evs {
		count[e.ID]++
		seqOf[e.ID] = e.Seq
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	// In order: each command's accepted event before its outcome, and the
	// outcomes in the order the commands were answered.
	var last uint64
	for _, r := range replies {
		var acc uint64
		for _, e := range evs {
			if e.CommandID == r.CommandID && e.Type == events.CommandAccepted {
				acc = e.Seq
			}
		}
		out := seqOf[r.Event.ID]
		if acc == 0 || acc > out {
			t.Errorf("command %s: command.accepted at seq %d, outcome at %d", r.CommandID, acc, out)
		}
		if out < last {
			t.Errorf("outcome %s at seq %d before the previous command's outcome at %d", r.Event.ID, out, last)
		}
		last = out
	}
	t.Logf("%d commands answered without quorum; their events stored at seqs up to %d, %d events in all", len(replies), last, len(evs))
}
