package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/events"
)

// layoutFigures are what one subscription layout costs with n tables.
type layoutFigures struct {
	register       time.Duration // subscribing every table at start, flush included
	heap           int64         // Go heap added (client and the in-process server)
	goroutines     int           // goroutines added
	subs           int           // subscriptions added on the server
	info, stats    int           // bytes of the kv service's $SRV.INFO and $SRV.STATS replies
	addRemove      time.Duration // one more table subscribed then removed, flushes included, mean
	removeOneByOne bool          // false: the layout cannot remove one table
}

// BenchmarkManyTablesNATS measures, with CUSTODIAN_BENCH_TABLES tables
// (default 10,000) on the embedded server, the subscription layouts a node
// could use: micro endpoints per table (the layout before issue 12), the
// same with their metadata trimmed, plain async subscriptions per table
// with one micro endpoint per service, and the layout built (channel
// subscriptions into one inbox per plane, discovery answered with one
// endpoint per service). The loop measures a table's add and remove in the
// layout built; the figures of every layout are reported as metrics,
// times as ratios to the micro endpoints' measured in the same run.
func BenchmarkManyTablesNATS(b *testing.B) {
	n := benchTables(b)
	node := startNode(b, nodeOptions{tables: []string{"users"}})
	names := tableNames(n)
	layouts := []struct {
		name string
		run  func(nc *nats.Conn, prefix string) (layoutFigures, func() error, error)
	}{
		{"micro", func(nc *nats.Conn, prefix string) (layoutFigures, func() error, error) {
			return microLayout(nc, prefix, names, true)
		}},
		{"trimmed", func(nc *nats.Conn, prefix string) (layoutFigures, func() error, error) {
			return microLayout(nc, prefix, names, false)
		}},
		{"async", func(nc *nats.Conn, prefix string) (layoutFigures, func() error, error) {
			return asyncLayout(nc, prefix, names)
		}},
		{"built", func(nc *nats.Conn, prefix string) (layoutFigures, func() error, error) {
			return builtLayout(node, nc, prefix, names)
		}},
	}
	figs := map[string]layoutFigures{}
	for i, l := range layouts {
		nc, err := node.srv.Connect(context.Background(), "layout-"+l.name)
		if err != nil {
			b.Fatal(err)
		}
		srv := node.srv.Server()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		g0, s0 := runtime.NumGoroutine(), int(srv.NumSubscriptions())
		f, stop, err := l.run(nc, fmt.Sprintf("layout%d", i))
		if err != nil {
			b.Fatalf("%s: %v", l.name, err)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		f.heap = int64(after.HeapAlloc+after.StackInuse) - int64(before.HeapAlloc+before.StackInuse)
		f.goroutines = runtime.NumGoroutine() - g0
		f.subs = int(srv.NumSubscriptions()) - s0
		figs[l.name] = f
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		nc.Close()
	}

	// The loop: add and remove one table in the layout built, with n
	// tables subscribed.
	nc, err := node.srv.Connect(context.Background(), "layout-loop")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	svc, err := StartServices(nc, manyTables{node.sup, names}, ServicesOptions{Prefix: "loop"})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = svc.Stop(context.Background()) }()
	b.ResetTimer()
	for i := range b.N {
		if err := addRemove(svc, fmt.Sprintf("x%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()

	base := figs["micro"]
	for _, l := range layouts {
		f := figs[l.name]
		b.Logf("%-8s register %v (%.1f µs/table), heap+stacks %d B/table (%.0f B/subscription), goroutines %d, server subs %d, info %d B, stats %d B, add+remove %v (one by one: %v)",
			l.name, f.register, float64(f.register.Microseconds())/float64(n), f.heap/int64(n), float64(f.heap)/float64(max(f.subs, 1)),
			f.goroutines, f.subs, f.info, f.stats, f.addRemove, f.removeOneByOne)
		b.ReportMetric(float64(f.heap)/float64(n), l.name+"_mem_B/table")
		b.ReportMetric(float64(f.goroutines)/float64(n), l.name+"_goroutines/table")
		b.ReportMetric(float64(f.subs)/float64(n), l.name+"_subs/table")
		b.ReportMetric(float64(f.info), l.name+"_info_B")
		b.ReportMetric(float64(f.stats), l.name+"_stats_B")
		b.ReportMetric(float64(f.register)/float64(base.register), l.name+"_register/micro")
		if f.addRemove > 0 && base.addRemove > 0 {
			b.ReportMetric(float64(f.addRemove)/float64(base.addRemove), l.name+"_add/micro")
		}
	}
}

// benchTables is CUSTODIAN_BENCH_TABLES, default 10,000.
func benchTables(b *testing.B) int {
	if s := os.Getenv("CUSTODIAN_BENCH_TABLES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("CUSTODIAN_BENCH_TABLES=%q: want a positive integer", s)
		}
		return v
	}
	return 10_000
}

// addRounds is how many tables each layout adds (and removes) one by one.
const addRounds = 100

// microLayout is the layout before issue 12: a micro endpoint per table on
// custodian-kv and custodian-cmd (with or without their metadata). micro
// has no way to remove one endpoint: the add is measured alone.
func microLayout(nc *nats.Conn, prefix string, names []string, meta bool) (layoutFigures, func() error, error) {
	var f layoutFigures
	noop := micro.HandlerFunc(func(micro.Request) {})
	stats := func(*micro.Endpoint) any { return EndpointStats{} }
	kv, err := micro.AddService(nc, micro.Config{Name: prefix + "-kv", Version: DefaultVersion, StatsHandler: stats,
		Metadata: map[string]string{"node": "n1", "prefix": prefix}})
	if err != nil {
		return f, nil, err
	}
	cmd, err := micro.AddService(nc, micro.Config{Name: prefix + "-cmd", Version: DefaultVersion, StatsHandler: stats,
		Metadata: map[string]string{"node": "n1", "prefix": prefix}})
	if err != nil {
		return f, nil, err
	}
	stop := func() error { return joinStop(kv.Stop(), cmd.Stop()) }
	add := func(name string) error {
		var kvOpts, cmdOpts []micro.EndpointOpt
		kvOpts = append(kvOpts, micro.WithEndpointSubject(events.KVSubject(prefix, name, "*")))
		cmdOpts = append(cmdOpts, micro.WithEndpointSubject(events.CmdSubject(prefix, name, "*")))
		if meta {
			kvOpts = append(kvOpts, micro.WithEndpointMetadata(map[string]string{"table": name, "ops": "put,get,delete,batch,scan"}))
			cmdOpts = append(cmdOpts, micro.WithEndpointMetadata(map[string]string{"table": name, "verbs": strings.Join(events.TableVerbs(), ",")}))
		}
		if err := kv.AddEndpoint(name, noop, kvOpts...); err != nil {
			return err
		}
		return cmd.AddEndpoint(name, noop, cmdOpts...)
	}
	start := time.Now()
	for _, name := range names {
		if err := add(name); err != nil {
			return f, stop, err
		}
	}
	if err := nc.Flush(); err != nil {
		return f, stop, err
	}
	f.register = time.Since(start)
	info, _ := json.Marshal(kv.Info())
	st, _ := json.Marshal(kv.Stats())
	f.info, f.stats = len(info), len(st)
	start = time.Now()
	for i := range addRounds {
		if err := add(fmt.Sprintf("x%d", i)); err != nil {
			return f, stop, err
		}
		if err := nc.Flush(); err != nil {
			return f, stop, err
		}
	}
	f.addRemove = time.Since(start) / addRounds
	return f, stop, nil
}

// asyncLayout subscribes each table with plain async queue subscriptions
// (a goroutine each in nats.go); discovery would be one endpoint per
// service as in the layout built, so its replies are the built layout's.
func asyncLayout(nc *nats.Conn, prefix string, names []string) (layoutFigures, func() error, error) {
	var f layoutFigures
	var subs []*nats.Subscription
	stop := func() error { return unsubscribeAll(subs) }
	noop := func(*nats.Msg) {}
	add := func(name string) ([]*nats.Subscription, error) {
		kv, err := nc.QueueSubscribe(events.KVSubject(prefix, name, "*"), queueGroup, noop)
		if err != nil {
			return nil, err
		}
		cmd, err := nc.QueueSubscribe(events.CmdSubject(prefix, name, "*"), queueGroup, noop)
		return []*nats.Subscription{kv, cmd}, err
	}
	start := time.Now()
	for _, name := range names {
		s, err := add(name)
		subs = append(subs, s...)
		if err != nil {
			return f, stop, err
		}
	}
	if err := nc.Flush(); err != nil {
		return f, stop, err
	}
	f.register = time.Since(start)
	start = time.Now()
	for i := range addRounds {
		s, err := add(fmt.Sprintf("x%d", i))
		if err == nil {
			err = nc.Flush()
		}
		if err == nil {
			err = unsubscribeAll(s)
		}
		if err == nil {
			err = nc.Flush()
		}
		if err != nil {
			return f, stop, err
		}
	}
	f.addRemove, f.removeOneByOne = time.Since(start)/addRounds, true
	return f, stop, nil
}

// builtLayout is StartServices with every name listed as an owned table.
func builtLayout(node *node, nc *nats.Conn, prefix string, names []string) (layoutFigures, func() error, error) {
	var f layoutFigures
	start := time.Now()
	svc, err := StartServices(nc, manyTables{node.sup, names}, ServicesOptions{Prefix: prefix})
	if err != nil {
		return f, nil, err
	}
	f.register = time.Since(start)
	stop := func() error { return svc.Stop(context.Background()) }
	for _, verb := range []string{"INFO", "STATS"} {
		m, err := nc.Request("$SRV."+verb+"."+ServiceKV+"."+svc.services[0].id, nil, 10*time.Second)
		if err != nil {
			return f, stop, err
		}
		if verb == "INFO" {
			f.info = len(m.Data)
		} else {
			f.stats = len(m.Data)
		}
	}
	start = time.Now()
	for i := range addRounds {
		if err := addRemove(svc, fmt.Sprintf("x%d", i)); err != nil {
			return f, stop, err
		}
	}
	f.addRemove, f.removeOneByOne = time.Since(start)/addRounds, true
	return f, stop, nil
}

// addRemove subscribes table name (AddTable: subscriptions and flush),
// then removes its subscriptions and flushes.
func addRemove(s *Services, name string) error {
	if err := s.AddTable(name); err != nil {
		return err
	}
	s.mu.Lock()
	t := s.tables[name]
	delete(s.tables, name)
	s.mu.Unlock()
	if err := unsubscribeAll([]*nats.Subscription{t.kv, t.cmd}); err != nil {
		return err
	}
	return s.nc.Flush()
}

func joinStop(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
