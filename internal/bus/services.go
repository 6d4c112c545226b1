package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

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

// Names of the micro services ("nats service ls" shows them).
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

// Services are the NATS micro services of one supervisor: custodian-kv
// (<prefix>.kv.<table>.<op>), custodian-cmd (<prefix>.cmd.<table>.<verb>)
// and custodian-node (<prefix>.node.<node>.<verb>). Only owned tables are
// subscribed, so a request for any other table gets "no responders". Every
// request is handled in its own goroutine (at most Concurrency at once) so
// that no request waits behind another on a subscription.
type Services struct {
	nc   *nats.Conn
	b    Backend
	opts ServicesOptions
	node string

	kv, cmd, nodeSvc micro.Service

	// One semaphore per plane: commands waiting for their outcome never
	// take the data plane's slots.
	sem    map[string]chan struct{}
	idle   chan job        // unbuffered: a send succeeds only if a worker waits
	ctx    context.Context // ends when Stop gives up waiting
	cancel context.CancelFunc

	statsMu sync.Mutex
	stats   map[string]*endpointCounters // plane/endpoint

	mu       sync.Mutex
	closing  bool
	inflight sync.WaitGroup
	tables   map[string]bool // tables whose endpoints are added
	addErr   error           // first failure to add a table's endpoints
}

// StartServices registers the three services on nc, the endpoints of every
// table b owns now, and those of every table it opens later.
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
		nc: nc, b: b, opts: opts, node: node,
		sem: map[string]chan struct{}{
			planeKV:   make(chan struct{}, opts.Concurrency),
			planeCmd:  make(chan struct{}, opts.Concurrency),
			planeNode: make(chan struct{}, opts.Concurrency),
		},
		ctx: ctx, cancel: cancel, idle: make(chan job),
		tables: map[string]bool{},
		stats:  map[string]*endpointCounters{},
	}
	meta := map[string]string{"node": node, "prefix": opts.Prefix}
	var err error
	add := func(name, plane, desc string) micro.Service {
		if err != nil {
			return nil
		}
		var svc micro.Service
		svc, err = micro.AddService(nc, micro.Config{
			Name: name, Version: opts.Version, Description: desc, Metadata: meta,
			StatsHandler: s.statsHandler(plane),
		})
		return svc
	}
	s.kv = add(ServiceKV, planeKV, "Custodian data plane: put, get, delete, batch and scan on the tables this node owns")
	s.cmd = add(ServiceCmd, planeCmd, "Custodian maintenance commands: compact, backup, verify, restore, salvage, status, drill")
	s.nodeSvc = add(ServiceNode, planeNode, "Custodian node commands: status, create, and compact, backup, verify, drill for every table")
	if err == nil {
		err = s.nodeSvc.AddEndpoint("node", s.dispatch(planeNode, "", s.handleNode),
			micro.WithEndpointSubject(fmt.Sprintf("%s.node.%s.*", opts.Prefix, node)),
			micro.WithEndpointMetadata(map[string]string{"verbs": strings.Join(events.NodeVerbs(), ",")}))
	}
	if err != nil {
		return nil, s.abort(fmt.Errorf("services: start: %w", err))
	}
	b.OnTableAdded(func(name string) { _ = s.AddTable(name) })
	// The endpoints of the tables owned now are added first, and one round
	// trip makes sure the server has all the subscriptions.
	for _, name := range b.Tables() {
		if err := validTable(name); err != nil {
			return nil, s.abort(err)
		}
		if err := s.addEndpoints(name); err != nil {
			return nil, s.abort(err)
		}
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
	s.cancel()
	if serr := s.stopServices(); serr != nil {
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
	if err := s.addEndpoints(name); err != nil {
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

// addEndpoints adds the kv and cmd endpoints of a table, once.
func (s *Services) addEndpoints(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.tables[name] {
		return nil
	}
	err := s.kv.AddEndpoint(name, s.dispatch(planeKV, name, s.handleKV),
		micro.WithEndpointSubject(fmt.Sprintf("%s.kv.%s.*", s.opts.Prefix, name)),
		micro.WithEndpointMetadata(map[string]string{"table": name, "ops": "put,get,delete,batch,scan"}))
	if err == nil {
		err = s.cmd.AddEndpoint(name, s.dispatch(planeCmd, name, s.handleCmd),
			micro.WithEndpointSubject(fmt.Sprintf("%s.cmd.%s.*", s.opts.Prefix, name)),
			micro.WithEndpointMetadata(map[string]string{"table": name, "verbs": strings.Join(events.TableVerbs(), ",")}))
	}
	if err != nil {
		err = fmt.Errorf("services: table %s: add endpoints: %w", name, err)
		if s.addErr == nil {
			s.addErr = err
		}
		return err
	}
	s.tables[name] = true
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
	err := s.stopServices()
	// The unsubscribes are on their way to the server; a round trip makes
	// sure it has applied them, so that a request sent after Stop returns
	// gets "no responders" instead of reaching a draining subscription.
	if s.nc.IsConnected() {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ferr := s.nc.FlushWithContext(fctx)
		cancel()
		if ferr != nil && s.nc.IsConnected() && ctx.Err() == nil {
			err = errors.Join(err, fmt.Errorf("services: stop: flush: %w", ferr))
		}
	}
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
	return err
}

func (s *Services) stopServices() error {
	var errs []error
	for _, svc := range []micro.Service{s.kv, s.cmd, s.nodeSvc} {
		if svc != nil {
			if err := svc.Stop(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("services: stop: %w", err)
	}
	return nil
}
