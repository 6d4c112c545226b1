package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// benchCommands is how many commands the latency benchmark sends: 1,000
// unless CUSTODIAN_BENCH_COMMANDS says otherwise.
func benchCommands(b *testing.B) int {
	if v := os.Getenv("CUSTODIAN_BENCH_COMMANDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("CUSTODIAN_BENCH_COMMANDS=%q", v)
		}
		return n
	}
	return 1000
}

// arrivals records when the outcome row of each command id arrived.
type arrivals struct {
	mu   sync.Mutex
	at   map[string]time.Time
	wake chan struct{}
}

func newArrivals() *arrivals {
	return &arrivals{at: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

func (a *arrivals) add(id string, t time.Time) {
	a.mu.Lock()
	a.at[id] = t
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *arrivals) wait(b *testing.B, id string) time.Time {
	deadline := time.After(30 * time.Second)
	for {
		a.mu.Lock()
		t, ok := a.at[id]
		a.mu.Unlock()
		if ok {
			return t
		}
		select {
		case <-a.wake:
		case <-deadline:
			b.Fatalf("no row for command %s", id)
		}
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

// reportPercentiles reports the p50 and p99 of got and of base in ms, each
// metric named with its prefix, and got's p50 over base's as p50_ratio.
func reportPercentiles(b *testing.B, got []time.Duration, gotPrefix string, base []time.Duration, basePrefix string) (p50, p99, b50, b99 time.Duration) {
	p50, p99 = percentile(got, 0.50), percentile(got, 0.99)
	b50, b99 = percentile(base, 0.50), percentile(base, 0.99)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(p50), gotPrefix+"p50_ms")
	b.ReportMetric(ms(p99), gotPrefix+"p99_ms")
	b.ReportMetric(ms(b50), basePrefix+"p50_ms")
	b.ReportMetric(ms(b99), basePrefix+"p99_ms")
	b.ReportMetric(float64(p50)/float64(b50), "p50_ratio")
	return p50, p99, b50, b99
}

// BenchmarkCommandToLiveRow measures, per command, the time from the
// dashboard's POST /api/tables/<t>/compact to the command's outcome row
// arriving on GET /api/stream (the page's live history), over 1,000
// commands. The baseline, in the same run, is the same path without the
// dashboard: a NATS request to the same responder and the outcome event
// read from the stream by an ordered consumer.
//
//	go test -run '^$' -bench BenchmarkCommandToLiveRow -benchtime 1x ./internal/dashboard/
func BenchmarkCommandToLiveRow(b *testing.B) {
	n := benchCommands(b)
	e := setup(b, Config{})
	e.respond("bench", events.VerbCompact)

	// The page's side: one SSE connection, rows by command id.
	sse := newArrivals()
	resp, err := http.DefaultClient.Do(e.request(e.ctx, http.MethodGet, "/api/stream?table=bench&type=compaction.completed", nil, nil))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "data: ") {
				continue
			}
			now := time.Now()
			var row struct {
				CommandID string `json:"command_id"`
			}
			if json.Unmarshal([]byte(line[len("data: "):]), &row) == nil && row.CommandID != "" {
				sse.add(row.CommandID, now)
			}
		}
	}()

	// The baseline's side: an ordered consumer on the outcome subject.
	raw := newArrivals()
	cctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	cons, err := e.js.OrderedConsumer(cctx, events.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + ".events.*.bench." + events.CompactionCompleted},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		b.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		now := time.Now()
		var ev events.Event
		if json.Unmarshal(m.Data(), &ev) == nil {
			raw.add(ev.CommandID, now)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()

	client := &http.Client{}
	post := func() time.Duration {
		t0 := time.Now()
		resp, err := client.Post(e.url+"/api/tables/bench/compact", "application/json", nil)
		if err != nil {
			b.Fatal(err)
		}
		var reply events.CommandReply
		err = json.NewDecoder(resp.Body).Decode(&reply)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusAccepted {
			b.Fatalf("POST: %d %v", resp.StatusCode, err)
		}
		return sse.wait(b, reply.CommandID).Sub(t0)
	}
	direct := func() time.Duration {
		t0 := time.Now()
		msg, err := e.nc.Request(events.CmdSubject(prefix, "bench", events.VerbCompact), nil, 10*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		var reply events.CommandReply
		if err := json.Unmarshal(msg.Data, &reply); err != nil {
			b.Fatal(err)
		}
		return raw.wait(b, reply.CommandID).Sub(t0)
	}
	for i := 0; i < 20; i++ { // warm up both paths
		post()
		direct()
	}

	b.ResetTimer()
	var dash, base []time.Duration
	for it := 0; it < b.N; it++ {
		for i := 0; i < n; i++ {
			dash = append(dash, post())
			base = append(base, direct())
		}
	}
	b.StopTimer()
	p50, p99, b50, b99 := reportPercentiles(b, dash, "", base, "baseline_")
	b.Logf("%d commands: dashboard POST -> SSE row p50 %v p99 %v; NATS request -> stream event p50 %v p99 %v", len(dash), p50, p99, b50, b99)
}
