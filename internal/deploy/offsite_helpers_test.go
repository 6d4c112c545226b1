package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/changelog"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/offsite"
)

// tableEvents reads every event of node's table from CUSTODIAN_EVENTS, in
// stream order, with their data, then its table.stats from
// CUSTODIAN_STATS.
func tableEvents(ctx context.Context, js jetstream.JetStream, node, table string) ([]events.Event, error) {
	evs, err := streamTableEvents(ctx, js, events.StreamName, fmt.Sprintf("%s.events.%s.%s.>", events.DefaultPrefix, node, table))
	if err != nil {
		return nil, err
	}
	stats, err := streamTableEvents(ctx, js, events.StatsStreamName, events.StatsSubject(events.DefaultPrefix, node, table))
	if err != nil {
		return nil, err
	}
	return append(evs, stats...), nil
}

// streamTableEvents reads the events of stream on subject filter, in
// order.
func streamTableEvents(ctx context.Context, js jetstream.JetStream, stream, filter string) ([]events.Event, error) {
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
	})
	if err != nil {
		return nil, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []events.Event
	for n := info.NumPending; n > 0; n-- {
		m, err := orderedNext(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("next event (%d left): %w", n, err)
		}
		var e events.Event
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// orderedNext is c.Next of an ordered consumer, tried again on "no
// responders": each Next replaces the consumer, and on a cluster the pull
// can reach the stream leader before the new one is there (as
// internal/offsite's nextMsg; the retry resumes after the last message
// delivered).
func orderedNext(ctx context.Context, c jetstream.Consumer) (jetstream.Msg, error) {
	for try := 1; ; try++ {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err == nil || !errors.Is(err, nats.ErrNoResponders) || try == 15 {
			return m, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(try) * 50 * time.Millisecond):
		}
	}
}

// ofType returns the events of evs whose type is typ.
func ofType(evs []events.Event, typ string) []events.Event {
	var out []events.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// ackedWrite is a put the supervisor acknowledged, and when the test got
// the acknowledgement.
type ackedWrite struct {
	key   string
	value string
	at    time.Time
}

// writers put new keys into a table over NATS (each writer its own keys:
// w<i>-<n>) and record every acknowledged put. A put that gets no answer
// or an error is not recorded and the writer goes on with its next key.
type writers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	acks   []ackedWrite
	errs   map[string]int // errors by kind, for the log
}

// startWriters starts n writers on table; pad is the filler per value.
func startWriters(ctx context.Context, nc *nats.Conn, table string, n, pad int) *writers {
	ctx, cancel := context.WithCancel(ctx)
	w := &writers{cancel: cancel, errs: map[string]int{}}
	filler := strings.Repeat("x", pad)
	for i := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for seq := 0; ctx.Err() == nil; seq++ {
				key := fmt.Sprintf("w%d-%06d", i, seq)
				value := fmt.Sprintf(`{"w":%d,"n":%d,"pad":%q}`, i, seq, filler)
				var rep struct {
					OK    bool `json:"ok"`
					Error *struct {
						Code string `json:"code"`
					} `json:"error"`
				}
				rctx, c := context.WithTimeout(ctx, 2*time.Second)
				err := request(rctx, nc, events.KVSubject(events.DefaultPrefix, table, "put"),
					map[string]any{"key": key, "value": json.RawMessage(value)}, &rep)
				c()
				at := time.Now()
				w.mu.Lock()
				switch {
				case err != nil:
					w.errs[errKind(err)]++
				case rep.Error != nil || !rep.OK:
					w.errs[fmt.Sprintf("reply %+v", rep.Error)]++
				default:
					w.acks = append(w.acks, ackedWrite{key: key, value: value, at: at})
				}
				w.mu.Unlock()
				if err != nil || rep.Error != nil {
					// The supervisor is gone or busy: do not spin.
					select {
					case <-ctx.Done():
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
		}()
	}
	return w
}

func errKind(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

// count is the number of acknowledged writes so far.
func (w *writers) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

// stop stops the writers and returns every acknowledged write.
func (w *writers) stop() []ackedWrite {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acks
}

// writeFor waits until the writers have had a write acknowledged d after
// now: they have been writing for d.
func (w *writers) writeFor(t *testing.T, d time.Duration, what string) {
	t.Helper()
	until := time.Now().Add(d)
	waitFor(t, d+60*time.Second, what, func() (bool, string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if n := len(w.acks); n > 0 && w.acks[n-1].at.After(until) {
			return true, ""
		}
		return false, fmt.Sprintf("%d writes acknowledged", len(w.acks))
	})
}

// getKey reads key of table through NATS: its value, or found false.
func getKey(ctx context.Context, nc *nats.Conn, table, key string) (value string, found bool, err error) {
	var rep struct {
		Value json.RawMessage `json:"value"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := request(ctx, nc, events.KVSubject(events.DefaultPrefix, table, "get"), map[string]any{"key": key}, &rep); err != nil {
		return "", false, err
	}
	if rep.Error != nil {
		if rep.Error.Code == "not_found" {
			return "", false, nil
		}
		return "", false, fmt.Errorf("get %s: %s: %s", key, rep.Error.Code, rep.Error.Message)
	}
	return string(rep.Value), true, nil
}

// checkRebuilt reads every acknowledged write back, key by key, from the
// rebuilt table. A write acknowledged more than 1 s before the kill must
// be there with its value. A write acknowledged later may be missing; the
// restore's recovered_to must then account for it (the journal the
// rebuild replayed ends before the write). It returns the number missing.
func checkRebuilt(t *testing.T, ctx context.Context, nc *nats.Conn, table string, acks []ackedWrite, kill, recoveredTo time.Time) int {
	t.Helper()
	type result struct {
		w     ackedWrite
		value string
		found bool
		err   error
	}
	jobs := make(chan ackedWrite)
	results := make(chan result)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range jobs {
				rctx, c := context.WithTimeout(ctx, 5*time.Second)
				v, ok, err := getKey(rctx, nc, table, w.key)
				c()
				results <- result{w, v, ok, err}
			}
		}()
	}
	go func() {
		for _, w := range acks {
			jobs <- w
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	cutoff := kill.Add(-time.Second)
	var missing, bad, errs int
	var firstMissing time.Time
	for r := range results {
		switch {
		case r.err != nil:
			errs++
			if errs <= 5 {
				t.Errorf("get %s: %v", r.w.key, r.err)
			}
		case !r.found:
			missing++
			if firstMissing.IsZero() || r.w.at.Before(firstMissing) {
				firstMissing = r.w.at
			}
			if !r.w.at.After(cutoff) {
				bad++
				if bad <= 10 {
					t.Errorf("write %s acknowledged %s before the kill is missing after the rebuild", r.w.key, kill.Sub(r.w.at).Round(time.Millisecond))
				}
			}
			// recovered_to is the time of the last write replayed: a
			// write missing from the rebuilt table must be after it (2
			// ms for the journal's millisecond time stamps).
			if !recoveredTo.IsZero() && r.w.at.Before(recoveredTo.Add(-2*time.Millisecond)) {
				t.Errorf("write %s acknowledged at %s is missing, but restore.completed says recovered_to %s",
					r.w.key, r.w.at.Format(time.StampMicro), recoveredTo.Format(time.StampMicro))
			}
		case !jsonEqual(r.value, r.w.value):
			t.Errorf("write %s: value after the rebuild differs", r.w.key)
		}
	}
	if bad > 10 {
		t.Errorf("... %d writes acknowledged more than 1 s before the kill missing in all", bad)
	}
	if missing > 0 {
		t.Logf("%d of %d acknowledged writes missing after the rebuild, all acknowledged in the last %s before the kill",
			missing, len(acks), kill.Sub(firstMissing).Round(time.Millisecond))
	}
	return missing
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// startupRestore waits for the restore at start of node's table in
// CUSTODIAN_EVENTS (restore.completed or another outcome) and returns it.
func startupRestore(t *testing.T, ctx context.Context, js jetstream.JetStream, node, table string, after time.Time) events.Event {
	t.Helper()
	var got events.Event
	waitFor(t, 90*time.Second, "the restore at start of "+table+" in CUSTODIAN_EVENTS", func() (bool, string) {
		rctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		evs, err := tableEvents(rctx, js, node, table)
		if err != nil {
			return false, err.Error()
		}
		for _, e := range evs {
			if e.Time.Before(after) {
				continue
			}
			switch e.Type {
			case events.RestoreCompleted, events.RestoreFailed, events.TableDegraded:
				if e.Type != events.RestoreFailed || e.Data["trying_next"] != true {
					got = e
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("%d events of %s/%s, no restore outcome yet", len(evs), node, table)
	})
	return got
}

// checkStartupRestore asserts that ev is the restore at start of a table
// rebuilt from off-site and returns its recovered_to (zero if absent).
func checkStartupRestore(t *testing.T, ev events.Event) time.Time {
	t.Helper()
	t.Logf("restore at start: %s trigger %s data %v", ev.Type, ev.Trigger, ev.Data)
	if ev.Type != events.RestoreCompleted {
		t.Fatalf("the table was not restored from off-site: %s %s %v", ev.Type, ev.Error, ev.Data)
	}
	if ev.Trigger != events.TriggerStartup {
		t.Errorf("restore.completed trigger %q, want %q", ev.Trigger, events.TriggerStartup)
	}
	if ev.Data["source"] != "offsite" {
		t.Errorf("restore.completed data.source %v, want offsite", ev.Data["source"])
	}
	lost, ok := ev.Data["lost"].(bool)
	if !ok {
		t.Errorf("restore.completed has no data.lost: %v", ev.Data)
	}
	if reason, _ := ev.Data["lost_reason"].(string); lost != (reason != "") {
		t.Errorf("restore.completed lost %v with lost_reason %q", lost, reason)
	}
	var rt time.Time
	if s, ok := ev.Data["recovered_to"].(string); ok {
		var err error
		if rt, err = time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("recovered_to %q: %v", s, err)
		}
	} else {
		t.Errorf("restore.completed has no recovered_to: the event does not say up to when the table was brought back")
	}
	return rt
}

// checkReplicas asserts that the off-site stream and bucket are R3.
func checkReplicas(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	for _, name := range []string{offsite.JournalStream, "OBJ_" + offsite.BackupBucket} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("stream %s has %d replicas, want 3 (--replicas 3)", name, r)
		}
	}
}

// serverNamed is the index of the cluster's server called name.
func serverNamed(t *testing.T, c *natstest.Cluster, name string) int {
	t.Helper()
	for i, s := range c.Servers {
		if s.Name() == name {
			return i
		}
	}
	t.Fatalf("no server %q in the cluster", name)
	return -1
}

// killSupervisor SIGKILLs p and returns when it is gone, with the time
// the signal was sent.
func killSupervisor(t *testing.T, p *proc) time.Time {
	t.Helper()
	at := time.Now()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
	return at
}

// wipe deletes a data directory whole, as a lost disk would.
func wipe(t *testing.T, dir string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still there: %v", dir, err)
	}
}

// journalMsg is one message of CUSTODIAN_JOURNAL for a table.
type journalMsg struct {
	seq   uint64 // stream sequence
	msgID string
	gen   uint64 // generation (of the record, or the generation record's number)
	isGen bool   // a generation record
	ops   []changelog.Op
}

// journalMessages reads every message of node's table in CUSTODIAN_JOURNAL
// in stream order, the records decoded as internal/offsite does.
func journalMessages(t *testing.T, ctx context.Context, js jetstream.JetStream, node, table string) []journalMsg {
	t.Helper()
	c, err := js.OrderedConsumer(ctx, offsite.JournalStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{fmt.Sprintf("%s.journal.%s.%s", events.DefaultPrefix, node, table)},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []journalMsg
	for n := info.NumPending; n > 0; n-- {
		m, err := orderedNext(ctx, c)
		if err != nil {
			t.Fatalf("next journal message (%d left): %v", n, err)
		}
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		jm := journalMsg{seq: md.Sequence.Stream, msgID: m.Headers().Get(jetstream.MsgIDHeader)}
		if g := m.Headers().Get(offsite.HeaderGenerationRecord); g != "" {
			jm.isGen = true
			jm.gen, _ = strconv.ParseUint(g, 10, 64)
			out = append(out, jm)
			continue
		}
		jm.gen, err = strconv.ParseUint(m.Headers().Get(offsite.HeaderGeneration), 10, 64)
		if err != nil {
			t.Fatalf("journal message %d: %s: %v", jm.seq, offsite.HeaderGeneration, err)
		}
		rec, err := changelog.DecodeRecord(m.Data())
		if err != nil {
			t.Fatalf("journal message %d: %v", jm.seq, err)
		}
		for _, op := range rec {
			op.Seq = changelog.PositionOf(jm.gen, op.Seq)
			jm.ops = append(jm.ops, op)
		}
		out = append(out, jm)
	}
	return out
}
