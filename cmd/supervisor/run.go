package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/dashboard"
	"github.com/custodian-dev/custodian/internal/demo"
	"github.com/custodian-dev/custodian/internal/notifier"
	"github.com/custodian-dev/custodian/internal/offsite"
	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
)

// shutdownGrace bounds each step of a shutdown (flushing the outbox,
// stopping the embedded server).
const shutdownGrace = 15 * time.Second

// run wires the parts together and runs until ctx is done; then it stops
// them in order: no new requests, work in flight finished or safely
// abandoned, outbox flushed, tables closed, embedded server last.
func run(ctx context.Context, s settings, log *slog.Logger) (err error) {
	if err := os.MkdirAll(s.Data, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}

	// NATS: embedded, or the server(s) --nats names.
	var emb *bus.Embedded
	var nc *nats.Conn
	clientName := "custodian-supervisor-" + s.Node
	if s.Conn.URL == "" {
		emb, err = bus.StartEmbedded(ctx, bus.EmbeddedOptions{
			Listen: s.NATSListen, StoreDir: filepath.Join(s.Data, "nats"), ServerName: "custodian-" + s.Node,
		})
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			err = errors.Join(err, emb.Shutdown(sctx))
		}()
		log.Info("embedded nats-server with JetStream", "url", emb.ClientURL(), "store", filepath.Join(s.Data, "nats"))
		nc, err = emb.Connect(ctx, clientName)
	} else {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		s.Conn.Name = clientName
		nc, err = s.Conn.Connect(cctx)
		cancel()
	}
	if err != nil {
		return err
	}
	defer nc.Close()

	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	streamCfg := s.streamConfig()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = bus.EnsureStream(sctx, js, streamCfg)
	cancel()
	if err != nil {
		return err
	}

	// The outbox: every event is durable here before it is published.
	outbox, err := bus.OpenOutbox(filepath.Join(s.Data, "outbox"), bus.OutboxOptions{
		Prefix: s.Prefix,
		// The audit stream was deleted under us: create it again, as a
		// start would, and the waiting events go out.
		OnNoStream: func(ctx context.Context) error {
			_, err := bus.EnsureStream(ctx, js, streamCfg)
			return err
		},
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, outbox.Close()) }()
	pubCtx, stopPub := context.WithCancel(context.Background())
	var pubErr error
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		pubErr = outbox.Run(pubCtx, js)
	}()
	defer func() {
		fctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		if ferr := outbox.Flush(fctx); ferr != nil {
			err = errors.Join(err, fmt.Errorf("outbox: %d events not yet published stay in %s for the next start: %w",
				outbox.Depth(), filepath.Join(s.Data, "outbox"), ferr))
		}
		cancel()
		stopPub()
		<-pubDone
		if pubErr != nil && !errors.Is(pubErr, context.Canceled) {
			err = errors.Join(err, pubErr)
		}
	}()

	// Off-site copies: tables lost on disk are fetched back first.
	var off *offsiteCopies
	var fetched []string
	if s.offsiteOn() {
		if off, fetched, err = startOffsite(ctx, js, s, log); err != nil {
			return fmt.Errorf("offsite: %w", err)
		}
	}

	// The tables and their policy.
	if err := checkFileLimit(s.MaxOpenTables); err != nil {
		return err
	}
	if err := setMemoryLimit(s.MemoryLimit); err != nil {
		return err
	}
	supCfg := s.supervisorConfig()
	supCfg.Log = log
	if off != nil {
		supCfg.Offsite = off
		supCfg.Rebuilt = off.rebuilt
	}
	sup, err := supervisor.Open(s.Data, tables.Options{NoSync: s.NoSync}, loggingEmitter{next: outbox, log: log}, supCfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, sup.Close()) }()
	existing, err := sup.Store().Names()
	if err != nil {
		return err
	}
	for _, name := range existing {
		if err := sup.OpenTable(ctx, name, false); err != nil {
			return fmt.Errorf("table %s: %w", name, err)
		}
	}
	for _, name := range fetched {
		if err := sup.OpenTable(ctx, name, false); err != nil {
			return fmt.Errorf("table %s: %w", name, err)
		}
	}
	for _, name := range s.Tables {
		if err := sup.OpenTable(ctx, name, true); err != nil {
			return fmt.Errorf("table %s: %w", name, err)
		}
	}

	// Everything below stops when work is cancelled, in reverse order. A
	// part that fails (the dashboard cannot listen, the notifier's config is
	// refused) stops the whole process with its error rather than leaving
	// a supervisor that runs without it.
	ctx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	fail := func(what string, e error) {
		if e != nil && !errors.Is(e, context.Canceled) {
			if !strings.HasPrefix(e.Error(), what+":") {
				e = fmt.Errorf("%s: %w", what, e)
			}
			mu.Lock()
			failures = append(failures, e)
			mu.Unlock()
			stopAll()
		}
	}
	supCtx, stopSup := context.WithCancel(context.Background())
	wg.Add(1)
	go func() { defer wg.Done(); fail("supervisor", sup.Run(supCtx)) }()

	services, err := bus.StartServices(nc, sup, bus.ServicesOptions{Prefix: s.Prefix, MaxBody: s.MaxBody})
	if err != nil {
		stopSup()
		wg.Wait()
		return err
	}
	log.Info("serving", "node", s.Node, "tables", sup.Tables(), "prefix", s.Prefix)

	sideCtx, stopSide := context.WithCancel(context.Background())
	var side sync.WaitGroup
	if s.runDashboard(emb != nil) {
		emitErrors := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "custodian_emit_errors_total",
			Help: "Events the supervisor could not hand to its outbox (counted and kept in node status; the work is refused or its outcome missing from the stream).",
		}, func() float64 { return float64(sup.EmitErrors()) })
		d, err := dashboard.New(nc, dashboard.Config{
			Limits: s.DashLimits,
			Listen: s.Dashboard, AdminToken: s.AdminToken, Prefix: s.Prefix,
			Collectors: collectors(outbox.Collector(), emitErrors, off),
			// critical: a critical table is degraded, or the node is
			// stopped by one (supervisor.Health): a load balancer sees 503.
			Checks: map[string]func() error{"outbox": outbox.Health, "critical": sup.Health},
		})
		if err != nil {
			// Nothing else has started yet: stop the services first, so
			// that no request reaches a stopping supervisor.
			stopSide()
			dctx, dcancel := context.WithTimeout(context.Background(), shutdownGrace)
			serr := services.Stop(dctx)
			dcancel()
			stopSup()
			wg.Wait()
			return errors.Join(err, serr)
		}
		side.Add(1)
		go func() { defer side.Done(); fail("dashboard", d.Run(sideCtx)) }()
		log.Info("dashboard", "url", "http://"+s.Dashboard)
	}
	if off != nil {
		off.track(sup)
		side.Add(1)
		go func() {
			defer side.Done()
			off.Ship.Run(sideCtx, shipEvery)
			// A last round at shutdown, so that the stream holds what was
			// written until now.
			fctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			if err := off.Ship.ShipAll(fctx); err != nil {
				log.Warn("offsite: the journal's last records were not shipped at shutdown; they go at the next start", "error", err)
			}
		}()
		side.Add(1)
		go func() { defer side.Done(); off.syncBackups(sideCtx, sup, log) }()
		log.Info("offsite: journal to "+offsite.JournalStream+", backups to "+offsite.BackupBucket, "replicas", s.Stream.Replicas)
	}
	if s.Notifier.HasSinks() {
		cfg := s.Notifier
		cfg.Prefix = s.Prefix
		cfg.Log = log
		side.Add(1)
		go func() { defer side.Done(); fail("notifier", notifier.Run(sideCtx, nc, cfg)) }()
		log.Info("notifier", "name", cfg.Name, "webhooks", len(cfg.Webhooks), "ntfy", len(cfg.Ntfys))
	}
	if s.Demo {
		t, err := sup.Table("demo")
		if err != nil {
			fail("demo", err)
		} else {
			side.Add(1)
			go func() {
				defer side.Done()
				_, derr := demo.Run(sideCtx, t, demo.Options{})
				fail("demo", derr)
			}()
			log.Info("demo: writing to table demo")
		}
	}

	select {
	case <-ctx.Done():
	case <-pubDone:
		// The publisher ends only when asked to (it outlives every
		// failure of NATS and of the disk): anything else stops the node
		// with the reason rather than leaving events unpublished.
		fail("outbox", errors.Join(errors.New("the publisher stopped"), pubErr))
	}
	log.Info("stopping")
	fail("services", services.Err())
	stopSide()
	side.Wait()
	sctx, cancel = context.WithTimeout(context.Background(), shutdownGrace)
	fail("services", services.Stop(sctx))
	cancel()
	stopSup()
	wg.Wait()
	return errors.Join(failures...)
}

// runDashboard: with the embedded server the dashboard runs unless
// --dashboard off; connected to a server it runs only when asked for.
func (s settings) runDashboard(embedded bool) bool {
	if s.Dashboard == "off" || s.Dashboard == "" {
		return false
	}
	return embedded || s.DashboardSet
}

// collectors are the dashboard's /metrics collectors: the outbox's, the
// emit errors and, with off-site copies, the journal's shipping lag.
func collectors(outbox, emitErrors prometheus.Collector, off *offsiteCopies) []prometheus.Collector {
	cs := []prometheus.Collector{outbox, emitErrors}
	if off != nil {
		cs = append(cs, off.Ship.Collector())
	}
	return cs
}
