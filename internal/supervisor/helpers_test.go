package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// waitLimit bounds every wait of a test so that a bug fails it instead of
// hanging it; no test asserts a duration.
const waitLimit = 60 * time.Second

// recorder is an in-memory events.Emitter that keeps every event, can be made
// to fail, and wakes waiters on each event.
type recorder struct {
	mu     sync.Mutex
	evs    []events.Event
	fail   func(ctx context.Context, e events.Event) error // non-nil: consulted before recording
	signal chan struct{}
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1)} }

func (r *recorder) Emit(ctx context.Context, e events.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := e.Marshal(); err != nil {
		return err
	}
	r.mu.Lock()
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(ctx, e); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) setFail(f func(context.Context, events.Event) error) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

func (r *recorder) all() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.evs...)
}

// of returns the events of table with one of types, in order.
func (r *recorder) of(table string, types ...string) []events.Event {
	var out []events.Event
	for _, e := range r.all() {
		if e.Table != table {
			continue
		}
		for _, t := range types {
			if e.Type == t {
				out = append(out, e)
			}
		}
	}
	return out
}

// waitFor waits until pred holds over the recorded events and returns them.
func (r *recorder) waitFor(t testing.TB, what string, pred func([]events.Event) bool) []events.Event {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		evs := r.all()
		if pred(evs) {
			return evs
		}
		select {
		case <-r.signal:
		case <-time.After(20 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("waiting for %s: gave up; events:\n%s", what, dump(r.all()))
		}
	}
}

// waitType waits for n events of typ on table and returns them.
func (r *recorder) waitType(t testing.TB, table, typ string, n int) []events.Event {
	t.Helper()
	r.waitFor(t, fmt.Sprintf("%d %s on %s", n, typ, table), func([]events.Event) bool {
		return len(r.of(table, typ)) >= n
	})
	return r.of(table, typ)
}

func dump(evs []events.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s table=%s cmd=%s trigger=%s attempt=%d result=%s err=%q data=%v\n",
			e.Type, e.Table, short(e.CommandID), e.Trigger, e.Attempt, e.Result, e.Error, e.Data)
	}
	return b.String()
}

func short(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}

// quiet is a policy with every schedule off and a short retry delay.
func quiet() Policy {
	return Policy{CompactEvery: -1, BackupEvery: -1, VerifyEvery: -1, StatsEvery: -1, RetryDelay: 20 * time.Millisecond}
}

// harness is a running Supervisor over a real store in a temp dir.
type harness struct {
	t    testing.TB
	root string
	rec  *recorder
	sup  *Supervisor
	stop func()
}

type harnessOpt struct {
	cfg       Config
	failpoint func(name string)
	root      string
	rec       *recorder
	noRun     bool
	noSync    bool // tables.Options.NoSync
}

func start(t testing.TB, o harnessOpt) *harness {
	t.Helper()
	if o.root == "" {
		o.root = t.TempDir()
	}
	if o.rec == nil {
		o.rec = newRecorder()
	}
	if o.cfg.Node == "" {
		o.cfg.Node = "n1"
	}
	if o.cfg.Defaults == (Policy{}) {
		o.cfg.Defaults = quiet()
	}
	sup, err := Open(o.root, tables.Options{Failpoint: o.failpoint, NoSync: o.noSync}, o.rec, o.cfg)
	if err != nil {
		t.Fatalf("open supervisor: %v", err)
	}
	h := &harness{t: t, root: o.root, rec: o.rec, sup: sup}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	if o.noRun {
		close(done)
	} else {
		go func() { done <- sup.Run(ctx) }()
	}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(waitLimit):
				t.Errorf("run did not return after cancel")
			}
			if err := sup.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) open(name string) *tables.Table {
	h.t.Helper()
	if err := h.sup.OpenTable(context.Background(), name, true); err != nil {
		h.t.Fatalf("open table %s: %v", name, err)
	}
	tb, err := h.sup.Table(name)
	if err != nil {
		h.t.Fatalf("table %s: %v", name, err)
	}
	return tb
}

// submit submits a manual command and fails the test on error.
func (h *harness) submit(table, verb string, body events.CommandBody) *Ticket {
	h.t.Helper()
	tk, err := h.sup.Submit(context.Background(), Command{Table: table, Verb: verb, Body: body})
	if err != nil {
		h.t.Fatalf("submit %s %s: %v", table, verb, err)
	}
	return tk
}

// wait waits for a ticket's outcome.
func (h *harness) wait(tk *Ticket) events.Event {
	h.t.Helper()
	select {
	case <-tk.Done():
		return tk.Outcome()
	case <-time.After(waitLimit):
		h.t.Fatalf("command %s did not finish; events:\n%s", tk.ID(), dump(h.rec.all()))
		return events.Event{}
	}
}

// fill puts n keys k0000.. with values {"n":i,"v":gen}.
func fill(t testing.TB, tb *tables.Table, n, gen int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		v, _ := json.Marshal(map[string]int{"n": i, "v": gen})
		if err := tb.Put(ctx, key(i), v); err != nil {
			t.Fatalf("put %s: %v", key(i), err)
		}
	}
}

func key(i int) string { return fmt.Sprintf("k%04d", i) }

// contents reads every key of the table in order.
func contents(t *testing.T, tb *tables.Table) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	after := ""
	for {
		res, err := tb.Scan(ctx, "", after, 500)
		if err != nil {
			t.Fatalf("scan %s: %v", tb.Name(), err)
		}
		for _, it := range res.Items {
			out[it.Key] = string(it.Value)
		}
		if res.Next == "" {
			return out
		}
		after = res.Next
	}
}

// ldbFiles lists the .ldb files of dir, sorted.
func ldbFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.ldb"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

// flip xors the byte at off of path (negative: from the end) with 0x80, as
// goleveldb's own corruption tests do.
func flip(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += len(b)
	}
	if off < 0 || off >= len(b) {
		t.Fatalf("flip %s: offset %d outside %d bytes", path, off, len(b))
	}
	b[off] ^= 0x80
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// manifestFile is the MANIFEST that CURRENT names in dir.
func manifestFile(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, strings.TrimSpace(string(b)))
}

// dataFile is the largest .ldb or .log file of dir: where a backup's records
// are (a small backup keeps them in its journal).
func dataFile(t *testing.T, dir string) string {
	t.Helper()
	var best string
	var size int64 = -1
	for _, pat := range []string{"*.ldb", "*.log"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, p := range m {
			if fi, err := os.Stat(p); err == nil && fi.Size() > size {
				best, size = p, fi.Size()
			}
		}
	}
	if size <= 0 {
		t.Fatalf("no data file in %s", dir)
	}
	return best
}

// stopPastGate stops h in the background and, once reached is closed (the
// shutdown got that far), opens g, where the work in flight is held; it
// fails the test if Run does not return.
func stopPastGate(t *testing.T, h *harness, g *gate, reached <-chan struct{}) {
	t.Helper()
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	<-reached
	g.open()
	select {
	case <-stopped:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
	}
}
