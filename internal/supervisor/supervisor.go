package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/logtail"
	"github.com/custodian-dev/custodian/internal/tables"
)

// recordGrace is how long, at shutdown, events may still take to be emitted
// once the work is cancelled: the outcomes of the cancelled work, then those
// of the commands still queued.
const recordGrace = 5 * time.Second

// Lifecycle of a Supervisor.
const (
	stateNew = iota
	stateRunning
	stateStopping
	stateStopped
)

// Supervisor applies the maintenance policy to the tables of one node.
type Supervisor struct {
	store     *tables.Store
	ownsStore bool
	em        events.Emitter
	cfg       Config

	// opening (capacity 1) serializes OpenTable; a channel, so that a
	// caller waits with its context.
	opening chan struct{}

	mu          sync.Mutex
	state       int
	tables      map[string]*tableState
	orphans     map[string]detection // corruption reported before the table was registered
	rebuilt     map[string][]string  // tables fetched from off-site whose restore at start has not run (Config.Rebuilt)
	added       []func(name string)
	emitErrors  int64
	lastEmitErr string
	// sleepErrors and lastSleepErr: closes of tables put to sleep that
	// failed (idle.go).
	sleepErrors  int64
	lastSleepErr string

	crit criticalState // critical tables that stopped the node (critical.go)

	sem        chan struct{} // one token per table at work
	stopping   chan struct{} // closed when Run's context is done
	workCtx    context.Context
	cancelWork context.CancelFunc
	// recordCtx is the context of the events work emits: it outlives
	// workCtx by up to recordGrace, so that the outcome of work cut at
	// shutdown is still recorded.
	recordCtx    context.Context
	cancelRecord context.CancelFunc
	workers      sync.WaitGroup // workers, schedulers and retry timers
}

// New returns a Supervisor over store that emits through em. Corruption that
// tables reports must reach the supervisor: store must have been opened with
// tables.Options.OnCorruption calling the function that CorruptionHandler
// returns, OnTornTail the one TornTailHandler returns and OnWriteFault the
// one WriteFaultHandler returns (possible only
// through an indirection, since the Supervisor does not exist yet). Open
// does that wiring and is the simpler way.
func New(store *tables.Store, em events.Emitter, cfg Config) (*Supervisor, error) {
	if store == nil {
		return nil, errors.New("supervisor: new: nil store")
	}
	s, err := newSupervisor(em, cfg)
	if err != nil {
		return nil, err
	}
	s.store = store
	if err := s.loadStopMarker(); err != nil {
		s.cancelWork()
		s.cancelRecord()
		return nil, err
	}
	return s, nil
}

// Open opens the Store at root with opts, its OnCorruption, OnTornTail and
// OnWriteFault set
// to report to the new Supervisor (and then to opts' own, if set), and returns the
// Supervisor, which owns the Store: Close closes it. This is how cmd/supervisor
// should build one.
func Open(root string, opts tables.Options, em events.Emitter, cfg Config) (*Supervisor, error) {
	s, err := newSupervisor(em, cfg)
	if err != nil {
		return nil, err
	}
	next := opts.OnCorruption
	opts.OnCorruption = func(table, op string, err error) {
		s.reportCorruption(table, op, err)
		if next != nil {
			next(table, op, err)
		}
	}
	nextFault := opts.OnWriteFault
	opts.OnWriteFault = func(table string, err error) {
		s.reportWriteFault(table, err)
		if nextFault != nil {
			nextFault(table, err)
		}
	}
	nextCut := opts.OnTornTail
	opts.OnTornTail = func(table, op string, cut logtail.Cut) {
		s.reportTornTail(table, op, cut)
		if nextCut != nil {
			nextCut(table, op, cut)
		}
	}
	opts.MaxOpen = cmp.Or(opts.MaxOpen, s.cfg.MaxOpenTables)
	store, err := tables.OpenStore(root, opts)
	if err != nil {
		s.cancelWork()
		s.cancelRecord()
		return nil, fmt.Errorf("supervisor: open store %s: %w", root, err)
	}
	s.store = store
	s.ownsStore = true
	for _, cerr := range store.CleanupErrors() {
		// Went on without: the journals stay in the quarantined copy.
		s.cfg.Log.Warn("journal not archived at start", "error", cerr)
	}
	if err := s.loadStopMarker(); err != nil {
		s.cancelWork()
		s.cancelRecord()
		return nil, errors.Join(err, store.Close())
	}
	return s, nil
}

func newSupervisor(em events.Emitter, cfg Config) (*Supervisor, error) {
	if em == nil {
		return nil, errors.New("supervisor: new: nil emitter")
	}
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, fmt.Errorf("supervisor: config: %w", err)
	}
	workCtx, cancel := context.WithCancel(context.Background())
	recordCtx, cancelRecord := context.WithCancel(context.Background())
	return &Supervisor{
		recordCtx:    recordCtx,
		cancelRecord: cancelRecord,
		em:           em,
		cfg:          cfg,
		tables:       map[string]*tableState{},
		orphans:      map[string]detection{},
		rebuilt:      maps.Clone(cfg.Rebuilt),
		sem:          make(chan struct{}, cfg.MaxConcurrent),
		stopping:     make(chan struct{}),
		opening:      make(chan struct{}, 1),
		workCtx:      workCtx,
		cancelWork:   cancel,
	}, nil
}

// CorruptionHandler returns the function that tables.Options.OnCorruption
// must call for this Supervisor to detect corruption (see New and Open). It
// never blocks: it marks the table unavailable and queues an automatic
// restore in front of the table's queue.
func (s *Supervisor) CorruptionHandler() func(table, op string, err error) {
	return s.reportCorruption
}

// Store is the store the Supervisor works on.
func (s *Supervisor) Store() *tables.Store { return s.store }

// Node is the node id events carry.
func (s *Supervisor) Node() string { return s.cfg.Node }

// Policy is the effective policy of table name.
func (s *Supervisor) Policy(name string) Policy { return s.cfg.policy(name) }

// Close closes the Store when Open created it; call it after Run returned.
func (s *Supervisor) Close() error {
	s.cancelWork()
	s.cancelRecord()
	if !s.ownsStore {
		return nil
	}
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("supervisor: close store: %w", err)
	}
	return nil
}

// Run runs schedules and workers until ctx is done, then stops the schedules,
// lets work in flight finish for up to Config.ShutdownGrace before cancelling
// it (tables is crash-safe), gives the cancelled work up to 5 s more to emit
// its outcome (an Emitter that does not answer by then is cancelled), ends
// the commands still queued with a command.rejected outcome (data.code
// internal, reason "shutdown"; not a *.failed, which would page),
// and returns. Commands submitted before Run
// wait in their queue until it starts. Run can be called once.
func (s *Supervisor) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateNew {
		s.mu.Unlock()
		return errors.New("supervisor: run: already started")
	}
	s.state = stateRunning
	for _, ts := range s.tables {
		s.startTable(ts)
	}
	s.workers.Add(1)
	go s.sleepIdle()
	s.mu.Unlock()

	<-ctx.Done()

	s.mu.Lock()
	s.state = stateStopping
	close(s.stopping)
	s.mu.Unlock()

	finished := make(chan struct{})
	go func() {
		s.workers.Wait()
		close(finished)
	}()
	grace := time.NewTimer(s.cfg.ShutdownGrace)
	select {
	case <-finished:
	case <-grace.C:
		s.cancelWork()
		// recordGrace for the outcomes of the cancelled work to be
		// emitted; then an Emitter that does not answer is cancelled too.
		grace.Reset(recordGrace)
		select {
		case <-finished:
		case <-grace.C:
			s.cancelRecord()
			<-finished
		}
	}
	grace.Stop()
	s.cancelWork()
	s.cancelRecord()

	// Emitting the shutdown outcomes still needs a context that is not done.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordGrace)
	defer cancel()
	s.drain(dctx)

	s.mu.Lock()
	s.state = stateStopped
	s.mu.Unlock()
	return nil
}

// startTable starts the worker and the schedules of ts; s.mu is held and the
// supervisor is running.
func (s *Supervisor) startTable(ts *tableState) {
	s.workers.Add(3)
	go s.work(ts)
	go s.schedule(ts)
	go s.reportProgress(ts)
}
