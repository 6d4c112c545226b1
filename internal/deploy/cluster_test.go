package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/notifier"
)

// webhookSink is an httptest server standing in for a user's webhook
// endpoint: it records every delivery and answers 200.
type webhookSink struct {
	mu   sync.Mutex
	keys []string // Idempotency-Key of every POST, in arrival order
	srv  *httptest.Server
}

func newWebhookSink(t *testing.T) *webhookSink {
	w := &webhookSink{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.mu.Lock()
		w.keys = append(w.keys, r.Header.Get("Idempotency-Key"))
		w.mu.Unlock()
		rw.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhookSink) deliveries(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, k := range w.keys {
		if k == key {
			n++
		}
	}
	return n
}

// node is one supervisor of the cluster test and what it was asked to do.
type node struct {
	id      string
	tables  []string
	proc    *proc
	mu      sync.Mutex
	replies []commandReply // answered commands
	failed  []string       // requests without an answer
}

// TestClusterSurvivesStreamLeaderLoss: three nats-servers in a JetStream
// cluster, CUSTODIAN_EVENTS with three replicas, two supervisors, a dashboard
// and a notifier, all real binaries. The server leading the stream is shut
// down while maintenance commands run.
func TestClusterSurvivesStreamLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster and four binaries (about a minute)")
	}
	supBin := buildBinary(t, "./cmd/supervisor")
	dashBin := buildBinary(t, "./cmd/dashboard")
	notBin := buildBinary(t, "./cmd/notifier")

	c := natstest.StartCluster(t, 3)
	servers, urls := c.Servers, c.URLs
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	nc, js := connectJS(t, urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))

	// Two supervisors, each with its own node id, tables and data.
	nodes := []*node{
		{id: "na", tables: []string{"a1", "a2"}},
		{id: "nb", tables: []string{"b1", "b2", "bx"}}, // bx: never backed up
	}
	for _, n := range nodes {
		// Off-site copies off: this test counts the commands answered and
		// the notifications sent across the event stream's failover; a
		// backup's off-site copy that fails while the killed server led
		// the bucket is a true offsite.failed, and a backup waits for its
		// copy's tries (TestClusterOffsiteRebuildAfterBucketLeaderLoss
		// tests off-site copies across a leader loss).
		n.proc = startProc(t, "supervisor "+n.id, supBin, nil,
			"--nats", urls, "--data", filepath.Join(t.TempDir(), n.id), "--node", n.id,
			"--tables", strings.Join(n.tables, ","), "--dashboard", "off", "--replicas", "3", "--offsite", "off")
	}
	for _, n := range nodes {
		waitSupervisorAnswers(t, ctx, nc, n.proc, n.id)
	}
	st, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if r := st.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("stream replicas %d, want 3 (--replicas 3)", r)
	}

	dashPort := natstest.FreePorts(t, 1)[0]
	dashURL := "http://" + addr(dashPort)
	startProc(t, "dashboard", dashBin, nil, "--nats", urls, "--listen", addr(dashPort))
	hook := newWebhookSink(t)
	notif := startProc(t, "notifier", notBin, nil, "--nats", urls, "--webhook", hook.srv.URL, "--name", "pager")
	waitFor(t, 30*time.Second, "dashboard healthy", func() (bool, string) {
		var v any
		err := getJSON(ctx, dashURL+"/api/tables", &v)
		return err == nil, fmt.Sprint(err)
	})
	waitFor(t, 30*time.Second, "notifier consumer", func() (bool, string) {
		if notif.exited() {
			t.Fatalf("notifier exited: %v", notif.err)
		}
		_, err := js.Consumer(ctx, events.StreamName, "pager")
		return err == nil, fmt.Sprint(err)
	})

	// Data to work on.
	for _, n := range nodes {
		for _, tb := range n.tables {
			for i := 0; i < 200; i++ {
				body := map[string]any{"key": fmt.Sprintf("k%03d", i%50), "value": i}
				if err := request(ctx, nc, events.KVSubject("custodian", tb, "put"), body, nil); err != nil {
					t.Fatalf("put %s: %v", tb, err)
				}
			}
		}
	}

	// Maintenance: every node keeps compacting and backing up its tables
	// (except bx) while the stream's leader server goes away.
	const rounds = 6
	var roundsDone [2]chan int
	var wg sync.WaitGroup
	for i, n := range nodes {
		roundsDone[i] = make(chan int, rounds)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				for _, tb := range n.tables {
					if tb == "bx" {
						continue
					}
					for _, verb := range []string{"compact", "backup"} {
						rctx, c := context.WithTimeout(ctx, 10*time.Second)
						var rep commandReply
						err := request(rctx, nc, "custodian.cmd."+tb+"."+verb, map[string]any{"wait": true, "force": verb == "compact"}, &rep)
						// While the supervisor's connection moves to another
						// server its subscriptions are gone for a moment: "no
						// responders" comes back at once, and an operator
						// asks again (within the same 10 s).
						for errors.Is(err, nats.ErrNoResponders) && rctx.Err() == nil {
							time.Sleep(250 * time.Millisecond)
							err = request(rctx, nc, "custodian.cmd."+tb+"."+verb, map[string]any{"wait": true, "force": verb == "compact"}, &rep)
						}
						c()
						n.mu.Lock()
						if err != nil || rep.Error != nil || rep.CommandID == "" {
							n.failed = append(n.failed, fmt.Sprintf("round %d %s %s: err=%v reply=%+v", r, tb, verb, err, rep.Error))
						} else {
							n.replies = append(n.replies, rep)
						}
						n.mu.Unlock()
					}
				}
				roundsDone[i] <- r
			}
		}()
	}
	// Kill the stream leader once both nodes are into their third round.
	for i := range nodes {
		for r := range roundsDone[i] {
			if r >= 1 {
				break
			}
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := info.Cluster.Leader
	var killed *server.Server
	for _, s := range servers {
		if s.Name() == leader {
			killed = s
		}
	}
	if killed == nil {
		t.Fatalf("stream leader %q is none of the servers", leader)
	}
	seqBefore := info.State.LastSeq
	t.Logf("shutting down the stream leader %s at stream seq %d", leader, seqBefore)
	killed.Shutdown()
	wg.Wait()
	for _, n := range nodes {
		t.Logf("node %s: %d commands answered, %d unanswered: %q", n.id, len(n.replies), len(n.failed), n.failed)
	}

	// A new leader took over, and the last round of every node worked.
	waitFor(t, 30*time.Second, "a new stream leader", func() (bool, string) {
		ictx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		i, err := st.Info(ictx)
		if err != nil {
			return false, err.Error()
		}
		return i.Cluster.Leader != "" && i.Cluster.Leader != leader, i.Cluster.Leader
	})
	for _, n := range nodes {
		wantLast := 2 * (len(n.tables) - boolInt(slices.Contains(n.tables, "bx")))
		if len(n.replies) < wantLast {
			t.Fatalf("node %s answered only %d commands", n.id, len(n.replies))
		}
		for _, f := range n.failed {
			if strings.HasPrefix(f, fmt.Sprintf("round %d ", rounds-1)) {
				t.Errorf("node %s: a command of the last round, after the failover, was not answered: %s", n.id, f)
			}
		}
		for _, rep := range n.replies[len(n.replies)-wantLast:] {
			if rep.Event == nil || rep.Result == "" {
				t.Errorf("node %s: reply after the failover without outcome: %+v", n.id, rep)
			}
		}
	}

	// A notification after the failover: a manual restore of bx, which has
	// no backup, degrades it (table.degraded notifies).
	var rep commandReply
	if err := request(ctx, nc, "custodian.cmd.bx.restore", map[string]any{"wait": true}, &rep); err != nil {
		t.Fatalf("restore bx: %v", err)
	}
	t.Logf("restore bx: result %s, event %+v", rep.Result, rep.Event)

	// Stop the supervisors cleanly (their outboxes flush), then compare.
	for _, n := range nodes {
		n.proc.stop(30 * time.Second)
		if n.proc.err != nil {
			t.Errorf("supervisor %s: exit %v", n.id, n.proc.err)
		}
	}

	var answered []commandReply
	for _, n := range nodes {
		answered = append(answered, n.replies...)
	}
	evs := waitRepliesStored(t, ctx, js, 60*time.Second, 20*time.Second, "every answered command's events in the stream", answered)

	// No event twice, each stored under its own id.
	byID := map[string]int{}
	for _, e := range evs {
		byID[e.ID]++
		if e.MsgID != e.ID {
			t.Errorf("seq %d: Nats-Msg-Id %q, event id %q", e.Seq, e.MsgID, e.ID)
		}
	}
	for id, c := range byID {
		if c > 1 {
			t.Errorf("event %s is %d times in the stream", id, c)
		}
	}
	// Every answered command: one command.accepted and one outcome with its
	// command id, and the outcome is the event the reply named.
	for _, n := range nodes {
		for _, r := range n.replies {
			var accepted, outcomes int
			for _, e := range evs {
				if e.CommandID != r.CommandID {
					continue
				}
				switch {
				case e.Type == events.CommandAccepted:
					accepted++
				case e.ID == r.Event.ID:
					outcomes++
				}
			}
			if accepted != 1 || outcomes != 1 {
				t.Errorf("command %s %s on %s: %d command.accepted and %d outcome %s in the stream, want 1 and 1", r.Verb, r.CommandID, r.Table, accepted, outcomes, r.Event.ID)
			}
		}
	}
	afterKill := 0
	for _, e := range evs {
		if e.Seq > seqBefore && (e.Node == "na" || e.Node == "nb") {
			afterKill++
		}
	}
	if afterKill == 0 {
		t.Error("no supervisor event was stored after the leader went away")
	}
	if si, err := st.Info(ctx); err == nil && si.State.Msgs > 0 {
		t.Logf("stream: %d events, %d bytes, %d bytes per event stored; %d events after the failover",
			si.State.Msgs, si.State.Bytes, si.State.Bytes/si.State.Msgs, afterKill)
	}

	// The dashboard shows both nodes' cards and converges on the stream:
	// each card's counters and last sequence equal what the stream holds.
	waitFor(t, 60*time.Second, "the dashboard converges on the stream", func() (bool, string) {
		rctx, c := context.WithTimeout(ctx, 20*time.Second)
		defer c()
		evs, err = readStream(rctx, js)
		if err != nil {
			return false, err.Error()
		}
		var cards []struct {
			Node     string            `json:"node"`
			Table    string            `json:"table"`
			State    string            `json:"state"`
			LastSeq  uint64            `json:"last_seq"`
			Counters map[string]uint64 `json:"counters"`
		}
		if err := getJSON(rctx, dashURL+"/api/tables", &cards); err != nil {
			return false, err.Error()
		}
		want := map[string]map[string]uint64{}
		wantSeq := map[string]uint64{}
		for _, e := range evs {
			if e.Node != "na" && e.Node != "nb" || e.Table == "" || e.Table == events.NodeTable {
				continue
			}
			k := e.Node + "/" + e.Table
			if want[k] == nil {
				want[k] = map[string]uint64{}
			}
			want[k][e.Type]++
			wantSeq[k] = max(wantSeq[k], e.Seq)
		}
		got := map[string]bool{}
		for _, c := range cards {
			k := c.Node + "/" + c.Table
			if want[k] == nil {
				continue
			}
			got[k] = true
			if c.LastSeq != wantSeq[k] {
				return false, fmt.Sprintf("%s: last_seq %d, stream %d", k, c.LastSeq, wantSeq[k])
			}
			for typ, n := range want[k] {
				if c.Counters[typ] != n {
					return false, fmt.Sprintf("%s: %s counted %d, stream has %d", k, typ, c.Counters[typ], n)
				}
			}
		}
		for _, n := range nodes {
			for _, tb := range n.tables {
				if !got[n.id+"/"+tb] {
					return false, "no card for " + n.id + "/" + tb
				}
			}
		}
		return true, ""
	})

	// The notifier delivered every event its rules pick (here: the failed
	// restore of bx), each exactly once.
	var notify []string
	for _, e := range evs {
		if _, ok := notifier.Notifies(events.Event{Type: e.Type, Trigger: e.Trigger, Attempt: e.Attempt}); ok {
			notify = append(notify, e.Type+" "+e.ID)
			if e.Table != "bx" {
				t.Errorf("unexpected notifying event %s on %s/%s", e.Type, e.Node, e.Table)
			}
		}
	}
	if len(notify) == 0 {
		t.Fatal("no notifying event for bx in the stream")
	}
	t.Logf("notifying events: %q", notify)

	waitFor(t, 60*time.Second, "the notifier delivers them", func() (bool, string) {
		for _, te := range notify {
			if hook.deliveries(te[strings.IndexByte(te, ' ')+1:]) == 0 {
				return false, "not yet: " + te
			}
		}
		return true, ""
	})
	time.Sleep(2 * time.Second) // a second delivery would come now
	for _, te := range notify {
		if c := hook.deliveries(te[strings.IndexByte(te, ' ')+1:]); c != 1 {
			t.Errorf("%s delivered %d times, want once", te, c)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestClusterNotifierStateIsReplicated: on a JetStream cluster the
// notifier's delivered set (a KV bucket) must be replicated like the event
// stream; with one replica, losing the server that holds it stops every
// delivery ("no response from stream") although the events are safe.
func TestClusterNotifierStateIsReplicated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	notBin := buildBinary(t, "./cmd/notifier")
	urls := natstest.StartCluster(t, 3).URLs
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, js := connectJS(t, urls, nats.MaxReconnects(-1))
	sctx, scancel := context.WithTimeout(ctx, 45*time.Second)
	_, err := bus.EnsureStream(sctx, js, bus.StreamConfig{Replicas: 3})
	scancel()
	if err != nil {
		t.Fatal(err)
	}
	hook := newWebhookSink(t)
	p := startProc(t, "notifier", notBin, nil, "--nats", urls, "--webhook", hook.srv.URL)
	bucket := "KV_" + notifier.LedgerBucket(events.DefaultPrefix)
	waitFor(t, 30*time.Second, "the notifier's delivered set exists", func() (bool, string) {
		if p.exited() {
			t.Fatalf("notifier exited: %v", p.err)
		}
		_, err := js.Stream(ctx, bucket)
		return err == nil, fmt.Sprint(err)
	})
	s, err := js.Stream(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("the notifier's delivered set %s has %d replica(s); CUSTODIAN_EVENTS has 3: losing one server can stop every notification", bucket, r)
	}
}
