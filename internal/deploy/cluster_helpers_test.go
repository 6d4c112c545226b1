package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// streamEvent is what the test reads back from CUSTODIAN_EVENTS.
type streamEvent struct {
	Seq       uint64
	ID        string `json:"id"`
	Type      string `json:"type"`
	Node      string `json:"node"`
	Table     string `json:"table"`
	CommandID string `json:"command_id"`
	Trigger   string `json:"trigger"`
	Result    string `json:"result"`
	Attempt   int    `json:"attempt"`
	MsgID     string
}

// readStream reads every event of CUSTODIAN_EVENTS with an ordered consumer.
func readStream(ctx context.Context, js jetstream.JetStream) ([]streamEvent, error) {
	st, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	last := info.State.LastSeq
	if last == 0 {
		return nil, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	var out []streamEvent
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			var e streamEvent
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				return nil, fmt.Errorf("seq %d: %w", md.Sequence.Stream, err)
			}
			e.Seq = md.Sequence.Stream
			e.MsgID = m.Headers().Get(jetstream.MsgIDHeader)
			out = append(out, e)
			if e.Seq >= last {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		if n == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// commandReply is a supervisor's answer to a command with "wait":true.
type commandReply struct {
	CommandID string       `json:"command_id"`
	Accepted  bool         `json:"accepted"`
	Table     string       `json:"table"`
	Verb      string       `json:"verb"`
	Result    string       `json:"result"`
	Event     *streamEvent `json:"event"`
	Error     *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// request sends a request and decodes the reply.
func request(ctx context.Context, nc *nats.Conn, subject string, body any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	msg, err := nc.RequestWithContext(ctx, subject, b)
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	if out != nil {
		if err := json.Unmarshal(msg.Data, out); err != nil {
			return fmt.Errorf("%s: reply %q: %w", subject, msg.Data, err)
		}
	}
	return nil
}

// waitFor polls cond every 200 ms until it is true or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
}

// getJSON GETs url into out.
func getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// connectJS connects to url (one URL or a comma-separated list) and opens
// JetStream on the connection; the connection is closed at the end of the
// test.
func connectJS(t *testing.T, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// waitSupervisorAnswers waits until the supervisor of node answers its
// status request over nc; the test fails if its process p exits first.
func waitSupervisorAnswers(t *testing.T, ctx context.Context, nc *nats.Conn, p *proc, node string) {
	t.Helper()
	waitFor(t, 60*time.Second, "supervisor "+node+" answers status", func() (bool, string) {
		if p.exited() {
			t.Fatalf("supervisor %s exited: %v\n%s", node, p.err, tail(p.out.String(), 3000))
		}
		rctx, c := context.WithTimeout(ctx, time.Second)
		defer c()
		err := request(rctx, nc, "custodian.node."+node+".status", nil, nil)
		return err == nil, fmt.Sprint(err)
	})
}

// waitRepliesStored reads the stream (each read within perRead) until the
// event of every reply is in it, and returns what it read last.
func waitRepliesStored(t *testing.T, ctx context.Context, js jetstream.JetStream, within, perRead time.Duration, what string, replies []commandReply) []streamEvent {
	t.Helper()
	var evs []streamEvent
	waitFor(t, within, what, func() (bool, string) {
		rctx, c := context.WithTimeout(ctx, perRead)
		defer c()
		var err error
		evs, err = readStream(rctx, js)
		if err != nil {
			return false, err.Error()
		}
		have := map[string]bool{}
		for _, e := range evs {
			have[e.ID] = true
		}
		for _, r := range replies {
			if r.Event != nil && !have[r.Event.ID] {
				return false, "missing " + r.Event.Type + " " + r.Event.ID
			}
		}
		return true, ""
	})
	return evs
}
