package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// Service defaults.
const (
	DefaultMaxBody     = 1 << 20 // request bodies over this answer too_large
	DefaultConcurrency = 256     // requests handled at once
	DefaultVersion     = "0.1.0"
	// requestTimeout bounds one Submit or OpenTable.
	requestTimeout = 30 * time.Second
)

// Names of the services ("nats service ls" shows them).
const (
	ServiceKV   = "custodian-kv"
	ServiceCmd  = "custodian-cmd"
	ServiceNode = "custodian-node"
)

// ServicesOptions configure the services.
type ServicesOptions struct {
	Prefix      string // subject prefix (default "custodian")
	MaxBody     int    // default DefaultMaxBody
	Concurrency int    // requests handled at once per plane (kv, cmd, node); default DefaultConcurrency
	Version     string // SemVer shown by nats service info (default DefaultVersion)
}

// Services are the NATS services of one supervisor: custodian-kv
// (<prefix>.kv.<table>.<op>), custodian-cmd (<prefix>.cmd.<table>.<verb>)
// and custodian-node (<prefix>.node.<node>.<verb>), listed by NATS service
// discovery (discovery.go). Only owned tables are subscribed, so a request
// for any other table gets "no responders" (subscriptions.go). Every
// request is handled in its own goroutine (at most Concurrency at once per
// plane) so that no request waits behind another of its table.
type Services struct {
	nc      *nats.Conn
	b       Backend
	opts    ServicesOptions
	node    string
	started time.Time

	services      []*service
	discoverySubs []*nats.Subscription
	nodeSub       *nats.Subscription

	// Per plane, fixed at start: the inbox every subscription of the
	// plane delivers to, the work that answers it, a semaphore (commands
	// waiting for their outcome never take the data plane's slots) and
	// the figures.
	inbox   map[string]chan *nats.Msg
	work    map[string]work
	sem     map[string]chan struct{}
	stats   map[string]*planeCounters
	readers sync.WaitGroup

	idle   chan job        // unbuffered: a send succeeds only if a worker waits
	ctx    context.Context // ends when Stop gives up waiting
	cancel context.CancelFunc

	mu       sync.Mutex
	closing  bool
	inflight sync.WaitGroup
	tables   map[string]tableSubs // subscriptions of the owned tables
	addErr   error                // first failure to subscribe a table
}

// StartServices subscribes the node's subjects, those of every table b
// owns now and of every table it opens later, and answers service
// discovery for the three services.
func StartServices(nc *nats.Conn, b Backend, opts ServicesOptions) (*Services, error) {
	if opts.Prefix == "" {
		opts.Prefix = events.DefaultPrefix
	}
	if !events.ValidPrefix(opts.Prefix) {
		return nil, fmt.Errorf("services: invalid subject prefix %q", opts.Prefix)
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	node := b.Node()
	if !events.ValidNode(node) {
		return nil, fmt.Errorf("services: invalid node id %q", node)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Services{
		nc: nc, b: b, opts: opts, node: node, started: time.Now().UTC(),
		inbox: map[string]chan *nats.Msg{}, sem: map[string]chan struct{}{}, stats: map[string]*planeCounters{},
		ctx: ctx, cancel: cancel, idle: make(chan job),
		tables: map[string]tableSubs{},
	}
	s.work = map[string]work{planeKV: s.handleKV, planeCmd: s.handleCmd, planeNode: s.handleNode}
	for _, plane := range []string{planeKV, planeCmd, planeNode} {
		s.inbox[plane] = make(chan *nats.Msg, inboxSize[plane])
		s.sem[plane] = make(chan struct{}, opts.Concurrency)
		s.stats[plane] = &planeCounters{}
	}
	for plane := range s.inbox {
		s.readers.Add(1)
		go s.read(ctx, plane)
	}
	pattern := func(plane string) string { return fmt.Sprintf("%s.%s.*.*", opts.Prefix, plane) }
	const perTable = "subscribed for each table this node owns; other tables get no responders"
	s.services = []*service{
		{name: ServiceKV, plane: planeKV, endpoint: "tables", subject: pattern(planeKV),
			description:  "Custodian data plane: put, get, delete, batch and scan on the tables this node owns",
			endpointMeta: map[string]string{"ops": "put,get,delete,batch,scan", "subjects": opts.Prefix + ".kv.<table>.<op>: " + perTable}},
		{name: ServiceCmd, plane: planeCmd, endpoint: "tables", subject: pattern(planeCmd),
			description:  "Custodian maintenance commands: compact, backup, verify, restore, salvage, status, drill",
			endpointMeta: map[string]string{"verbs": strings.Join(events.TableVerbs(), ","), "subjects": opts.Prefix + ".cmd.<table>.<verb>: " + perTable}},
		{name: ServiceNode, plane: planeNode, endpoint: "node", subject: fmt.Sprintf("%s.node.%s.*", opts.Prefix, node),
			description:  "Custodian node commands: status, create, and compact, backup, verify, drill for every table",
			endpointMeta: map[string]string{"verbs": strings.Join(events.NodeVerbs(), ",")}},
	}
	for _, svc := range s.services {
		svc.id = newServiceID()
	}
	var err error
	s.nodeSub, err = nc.ChanQueueSubscribe(s.services[2].subject, queueGroup, s.inbox[planeNode])
	if err != nil {
		return nil, s.abort(fmt.Errorf("services: start: subscribe %s: %w", s.services[2].subject, err))
	}
	b.OnTableAdded(func(name string) { _ = s.AddTable(name) })
	// The subscriptions of the tables owned now are made first, and one
	// round trip makes sure the server has them all.
	for _, name := range b.Tables() {
		if err := validTable(name); err != nil {
			return nil, s.abort(err)
		}
		if err := s.subscribe(name); err != nil {
			return nil, s.abort(err)
		}
	}
	if err := s.discover(); err != nil {
		return nil, s.abort(fmt.Errorf("services: start: %w", err))
	}
	if err := nc.FlushTimeout(10 * time.Second); err != nil && nc.IsConnected() {
		return nil, s.abort(fmt.Errorf("services: start: flush subscriptions: %w", err))
	}
	return s, nil
}

// abort undoes a failed start: nothing stays subscribed, and tables
// opened later are not subscribed either.
func (s *Services) abort(err error) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	serr := s.unsubscribe()
	s.cancel()
	s.readers.Wait()
	if serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// AddTable subscribes the kv and cmd subjects of table name (once). The
// supervisor's OnTableAdded calls it; node create calls it too.
func (s *Services) AddTable(name string) error {
	if err := validTable(name); err != nil {
		return err
	}
	if err := s.subscribe(name); err != nil {
		return err
	}
	// Make sure the server has the subscriptions before anyone is told the
	// table exists, also when another call added them (node create calls
	// this after the supervisor's OnTableAdded did: its answer must not
	// come before their flush succeeded). While disconnected the client
	// subscribes again on reconnect; there is nothing to wait for then.
	if s.nc.IsConnected() {
		if err := s.nc.FlushTimeout(5 * time.Second); err != nil && s.nc.IsConnected() {
			err = fmt.Errorf("services: table %s: flush subscriptions: %w", name, err)
			s.mu.Lock()
			if s.addErr == nil {
				s.addErr = err
			}
			s.mu.Unlock()
			return err
		}
	}
	return nil
}

// validTable refuses a table name that cannot be in a subject.
func validTable(name string) error {
	if !events.ValidTable(name) {
		return apierr.New(apierr.InvalidTable, "invalid table name %q", clipName(name))
	}
	return nil
}

// subscribe subscribes the kv and cmd subjects of a table, once.
func (s *Services) subscribe(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tables[name]; s.closing || ok {
		return nil
	}
	subs, err := s.subscribeTable(name)
	if err != nil {
		if s.addErr == nil {
			s.addErr = err
		}
		return err
	}
	s.tables[name] = subs
	return nil
}

// Err is the first failure to subscribe a table's subjects, if any.
func (s *Services) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addErr
}

// Stop unsubscribes everything (no new requests), waits for the requests
// in flight until ctx ends, then cancels those still waiting (they answer
// internal) and returns.
func (s *Services) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	err := s.unsubscribe()
	// The unsubscribes are on their way to the server; a round trip makes
	// sure it has applied them, so that a request sent after Stop returns
	// gets "no responders" instead of reaching a subscription on its way
	// out.
	if s.nc.IsConnected() {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ferr := s.nc.FlushWithContext(fctx)
		cancel()
		if ferr != nil && s.nc.IsConnected() && ctx.Err() == nil {
			err = errors.Join(err, fmt.Errorf("services: stop: flush: %w", ferr))
		}
	}
	// Requests received before the unsubscribes answer "stopping".
	s.drainInboxes()
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
	}
	s.cancel()
	s.readers.Wait()
	return err
}

// unsubscribe removes every subscription: discovery, the node's, the
// tables'. Called once closing is set (no table is added after).
func (s *Services) unsubscribe() error {
	subs := append([]*nats.Subscription{}, s.discoverySubs...)
	if s.nodeSub != nil {
		subs = append(subs, s.nodeSub)
	}
	s.mu.Lock()
	for _, t := range s.tables {
		subs = append(subs, t.kv, t.cmd)
	}
	s.mu.Unlock()
	if err := unsubscribeAll(subs); err != nil {
		return fmt.Errorf("services: stop: %w", err)
	}
	return nil
}
