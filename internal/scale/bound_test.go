package scale

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/natstest"
)

// Sizes and bounds of TestIdleTablesStayBounded.
const (
	// boundMaxOpen is the node's max_open_tables in the test's config.
	boundMaxOpen = 32
	// boundFirst tables are created before the first measurement,
	// boundTables in all: the 200 between them are what an idle table
	// costs once max_open_tables are open at both measurements.
	boundFirst  = 100
	boundTables = 300
	// fdsPerOpenTable is what an open table may hold: goleveldb keeps 4
	// descriptors per open database (LOCK, LOG, MANIFEST, journal) plus
	// its cached table files; 8 is generous.
	fdsPerOpenTable = 8
	// fdSlack is what the rest of the process may open between two
	// measurements (a connection, a log file).
	fdSlack = 16
	// idleTableBudget is the resident memory an idle table may add: the
	// issue's goal (1 GiB for 10,000 tables, 100 KB each).
	idleTableBudget = 100 << 10
	// boundWorkers requests in flight while the test fills tables.
	boundWorkers = 8
)

// A node with max_open_tables 32 and 300 tables written to and left idle
// holds the open files of at most 32 open tables, and each idle table adds
// at most 100 KiB of resident memory; every table still answers with what
// was written to it (a get on a closed table reopens it), and a sweep of
// gets over all of them keeps the bound. The supervisor is the real binary
// (go build, no -race) against a nats-server started here.
func TestIdleTablesStayBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the supervisor and runs it with 300 tables")
	}
	bin := buildSupervisor(t)
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.URL(), nats.Name("scale-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const node = "bound"
	c := client{nc: nc, node: node}
	cfg := filepath.Join(t.TempDir(), "supervisor.yaml")
	nodeConfig{Data: t.TempDir(), Node: node, NATSURL: srv.URL(), MaxOpenTables: boundMaxOpen}.write(t, cfg)
	p := startSupervisor(t, bin, cfg)
	if err := c.waitStatus(ctx, p); err != nil {
		t.Fatal(err)
	}
	empty := settle(t, p, time.Second)

	if err := c.fill(ctx, 0, boundFirst, boundWorkers); err != nil {
		t.Fatal(err)
	}
	first := settle(t, p, 2*time.Second)
	if err := c.fill(ctx, boundFirst, boundTables, boundWorkers); err != nil {
		t.Fatal(err)
	}
	second := settle(t, p, 2*time.Second)
	if err := c.checkValues(ctx, 0, boundTables, boundWorkers); err != nil {
		t.Fatalf("after %d tables were written: %v", boundTables, err)
	}
	swept := settle(t, p, time.Second)
	t.Logf("no table: %v\n%d tables: %v\n%d tables: %v\nafter a get on each: %v",
		empty, boundFirst, first, boundTables, second, swept)

	fdBound := empty.FDs + boundMaxOpen*fdsPerOpenTable
	for _, m := range []struct {
		what string
		f    procFigures
	}{{fmt.Sprintf("%d tables idle", boundTables), second}, {"after a get on every table", swept}} {
		if m.f.FDs > fdBound {
			t.Errorf("%s: %d open files; max_open_tables %d allows %d (%d without tables + %d per open table)",
				m.what, m.f.FDs, boundMaxOpen, fdBound, empty.FDs, fdsPerOpenTable)
		}
	}
	if grew := second.FDs - first.FDs; grew > fdSlack {
		t.Errorf("%d more idle tables opened %d more files (%d, then %d): an idle table should hold none",
			boundTables-boundFirst, grew, first.FDs, second.FDs)
	}
	perTable := (second.RSS - first.RSS) / (boundTables - boundFirst)
	if perTable > idleTableBudget {
		t.Errorf("each idle table added %d KiB of resident memory (%.1f MiB with %d tables, %.1f MiB with %d), want at most %d KiB",
			perTable>>10, mib(first.RSS), boundFirst, mib(second.RSS), boundTables, idleTableBudget>>10)
	}
	p.stop(t, time.Minute)
}
