package supervisor

import (
	"context"
	"slices"
	"strings"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// States lists the table states, failures first: the order of
// NodeStatus.Counts in documentation and of the node status pages.
func States() []string {
	return []string{StateDegraded, StateRestoring, StateCompacting, StateBackingUp, StateVerifying, StateOK}
}

// StatusQuery selects the page of tables a node status holds.
type StatusQuery struct {
	// Limit is the most tables in the page; 0 means no limit.
	Limit int
	// Offset is how many matching tables come before the page.
	Offset int
	// State keeps only the tables in that state (one of States); "" keeps
	// every table.
	State string
	// Fit, when set, is asked about every table before it joins the page:
	// false ends the page there (Truncated, NextOffset at that table). The
	// first table of a page always joins it, so that paging goes on. The
	// bus uses it to keep a reply under its size bound.
	Fit func(TableStatus) bool
}

// Check refuses a query the page cannot answer: apierr.InvalidRequest.
func (q StatusQuery) Check() error {
	switch {
	case q.Limit < 0:
		return apierr.New(apierr.InvalidRequest, "limit %d: want 0 (no limit) or more", q.Limit)
	case q.Offset < 0:
		return apierr.New(apierr.InvalidRequest, "offset %d: want 0 or more", q.Offset)
	case q.State != "" && !slices.Contains(States(), q.State):
		return apierr.New(apierr.InvalidRequest, "state %q: want one of %s", clip(q.State), strings.Join(States(), ", "))
	}
	return nil
}

// failureRank orders the tables of a node status: degraded first, then
// restoring (neither serves), then the rest. The rank is the state's alone:
// a table's last_error stays after a later success, so it does not rank.
func failureRank(state string) int {
	switch state {
	case StateDegraded:
		return 0
	case StateRestoring:
		return 1
	}
	return 2
}

// NodeStatusPage answers the node status verb for one page: the node's
// figures, every table counted by state, and the tables matching q from
// q.Offset, failures first (see failureRank) then by name. Only the
// tables of the page get their full status (figures read from disk): a
// node of 10,000 tables answers a page without reading all of theirs.
// An invalid q is apierr.InvalidRequest.
func (s *Supervisor) NodeStatusPage(ctx context.Context, q StatusQuery) (NodeStatus, error) {
	if err := q.Check(); err != nil {
		return NodeStatus{}, err
	}
	type entry struct {
		ts      *tableState
		running string
		state   string
	}
	s.mu.Lock()
	all := make([]entry, 0, len(s.tables))
	for _, ts := range s.tables {
		e := entry{ts: ts}
		if ts.running != nil {
			e.running = ts.running.cmd.Verb
		}
		all = append(all, e)
	}
	ns := NodeStatus{Node: s.cfg.Node, EmitErrors: s.emitErrors, LastEmitError: s.lastEmitErr,
		SleepErrors: s.sleepErrors, LastSleepError: s.lastSleepErr}
	s.mu.Unlock()
	ns.OpenTables = s.store.Awake()
	ns.TableCount = len(all)
	ns.Counts = make(map[string]int, len(States()))
	for _, st := range States() {
		ns.Counts[st] = 0
	}
	// The state here is read without the figures, the full status of a
	// page's table a moment later: a table can change state in between
	// (its status then says the newer one).
	for i := range all {
		ok, reason := all[i].ts.t.Available()
		all[i].state = stateOf(ok, reason, all[i].running)
		ns.Counts[all[i].state]++
	}
	if q.State != "" {
		all = slices.DeleteFunc(all, func(e entry) bool { return e.state != q.State })
	}
	slices.SortFunc(all, func(a, b entry) int {
		if ra, rb := failureRank(a.state), failureRank(b.state); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.ts.name, b.ts.name)
	})
	ns.Offset = q.Offset
	rest := all[min(q.Offset, len(all)):]
	size := len(rest)
	if q.Limit > 0 {
		size = min(size, q.Limit)
	}
	ns.Tables = make([]TableStatus, 0, size)
	for i, e := range rest {
		if q.Limit > 0 && i == q.Limit {
			ns.Truncated, ns.NextOffset = true, q.Offset+i
			break
		}
		st := s.status(ctx, e.ts)
		if q.Fit != nil && !q.Fit(st) && i > 0 {
			ns.Truncated, ns.NextOffset = true, q.Offset+i
			break
		}
		ns.Tables = append(ns.Tables, st)
	}
	ns.FailingReasons, ns.StoppedBy = s.failing()
	ns.Failing = len(ns.FailingReasons) > 0
	ns.Stopped = len(ns.StoppedBy) > 0
	return ns, nil
}
