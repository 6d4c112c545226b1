package supervisor

import (
	"context"
	"slices"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/tables"
)

// TestNodeStatusPage: failures first then by name, counts of every table
// whatever the page, a state filter, limit and offset, Fit ending a page
// (never before its first table), and refused queries.
func TestNodeStatusPage(t *testing.T) {
	h := start(t, harnessOpt{cfg: Config{MaxOpenTables: 2}})
	for _, name := range []string{"e", "d", "c", "b", "a"} {
		h.open(name)
	}
	h.open("d").SetUnavailable(tables.ReasonDegraded)
	h.open("b").SetUnavailable("restoring")
	ctx := context.Background()
	names := func(ns NodeStatus) []string {
		var out []string
		for _, ts := range ns.Tables {
			out = append(out, ts.Table)
		}
		return out
	}

	ns := h.sup.NodeStatus(ctx)
	if got := names(ns); !slices.Equal(got, []string{"d", "b", "a", "c", "e"}) || ns.Truncated || ns.TableCount != 5 {
		t.Fatalf("all tables: %v, truncated %v, %d tables", got, ns.Truncated, ns.TableCount)
	}
	if ns.Counts[StateDegraded] != 1 || ns.Counts[StateRestoring] != 1 || ns.Counts[StateOK] != 3 || len(ns.Counts) != len(States()) {
		t.Fatalf("counts %v", ns.Counts)
	}

	ns, err := h.sup.NodeStatusPage(ctx, StatusQuery{Limit: 2, Offset: 1})
	if got := names(ns); err != nil || !slices.Equal(got, []string{"b", "a"}) || !ns.Truncated || ns.NextOffset != 3 || ns.Counts[StateOK] != 3 {
		t.Fatalf("limit 2 offset 1: %v %v, truncated %v next %d", got, err, ns.Truncated, ns.NextOffset)
	}
	ns, err = h.sup.NodeStatusPage(ctx, StatusQuery{Limit: 2, Offset: 3})
	if got := names(ns); err != nil || !slices.Equal(got, []string{"c", "e"}) || ns.Truncated || ns.NextOffset != 0 {
		t.Fatalf("last page: %v %v, truncated %v next %d", got, err, ns.Truncated, ns.NextOffset)
	}
	ns, err = h.sup.NodeStatusPage(ctx, StatusQuery{State: StateOK, Offset: 1})
	if got := names(ns); err != nil || !slices.Equal(got, []string{"c", "e"}) || ns.TableCount != 5 {
		t.Fatalf("state ok from 1: %v %v", got, err)
	}
	if ns, err = h.sup.NodeStatusPage(ctx, StatusQuery{Offset: 9}); err != nil || len(ns.Tables) != 0 || ns.Truncated {
		t.Fatalf("past the end: %v %v", names(ns), err)
	}

	// Fit: two tables fit; and a first table always joins its page.
	asked := 0
	ns, _ = h.sup.NodeStatusPage(ctx, StatusQuery{Fit: func(TableStatus) bool { asked++; return asked <= 2 }})
	if got := names(ns); !slices.Equal(got, []string{"d", "b"}) || !ns.Truncated || ns.NextOffset != 2 {
		t.Fatalf("fit two: %v, truncated %v next %d", got, ns.Truncated, ns.NextOffset)
	}
	ns, _ = h.sup.NodeStatusPage(ctx, StatusQuery{Offset: 4, Fit: func(TableStatus) bool { return false }})
	if got := names(ns); !slices.Equal(got, []string{"e"}) || ns.Truncated {
		t.Fatalf("fit none: %v, truncated %v", got, ns.Truncated)
	}

	for _, q := range []StatusQuery{{Limit: -1}, {Offset: -1}, {State: "asleep"}} {
		if _, err := h.sup.NodeStatusPage(ctx, q); apierr.CodeOf(err) != apierr.InvalidRequest {
			t.Fatalf("%+v: %v, want invalid_request", q, err)
		}
	}
}
