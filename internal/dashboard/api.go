package dashboard

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/projections"
)

// maxHistoryLimit bounds one history page.
const maxHistoryLimit = projections.DefaultHistoryLimit

// cardView is a health card as the API shows it: the card, the ages that
// depend on the time of the request, and the size series.
type cardView struct {
	projections.Card
	LastBackupAgeMS *int64              `json:"last_backup_age_ms,omitempty"`
	Series          []projections.Point `json:"series"`
}

// listSeriesPoints bounds the series of each card in GET /api/tables (the
// page asks for a page of it as events arrive); GET /api/tables/<table> has them all.
const listSeriesPoints = 60

// views reads the cards pick chooses and their series under one read of
// the projection, so that cards and series are of the same moment.
func (s *Server) views(pick func(*projections.State) []projections.Card, maxPoints int) []cardView {
	now := time.Now()
	var out []cardView
	s.proj.Read(func(st *projections.State) {
		out = viewsOf(st, pick(st), now, maxPoints)
	})
	return out
}

// viewsOf adds to cards their series (at most maxPoints each, 0: all) and
// the ages as of now; st must be the state the cards were read from.
func viewsOf(st *projections.State, cards []projections.Card, now time.Time, maxPoints int) []cardView {
	out := make([]cardView, 0, len(cards))
	for _, c := range cards {
		v := cardView{Card: c, Series: st.Series(c.Node, c.Table, maxPoints)}
		if c.LastBackup != nil {
			age := now.Sub(c.LastBackup.Time).Milliseconds()
			v.LastBackupAgeMS = &age
		}
		out = append(out, v)
	}
	return out
}

// GET /api/tables/{table}: the cards of one table on every node.
func (s *Server) handleTable(w http.ResponseWriter, r *http.Request) {
	table := r.PathValue("table")
	if !events.ValidTable(table) {
		writeAPIError(w, apierr.New(apierr.InvalidTable, "invalid table name %q", table))
		return
	}
	views := s.views(func(st *projections.State) []projections.Card { return st.TableCards(table) }, 0)
	if len(views) == 0 {
		writeAPIError(w, apierr.New(apierr.NotFound, "table %s: no events seen", table))
		return
	}
	writeJSON(w, http.StatusOK, views)
}

// GET /api/history?table=&type=&exclude=&result=&node=&since=&limit=&before=
//
// The history log, newest first; every parameter is optional and they
// combine (a row must pass all of them):
//   - table, node: that table (or "_" for node-wide events), that node;
//   - type: a type or a family ("compaction" or "compaction." matches every
//     compaction.* type; "comp" matches nothing);
//   - exclude: comma-separated types or families to leave out, as in type,
//     e.g. exclude=table.stats,command.accepted (repeating the parameter adds
//     to the list); each must name a type of the contract or a family of
//     them, anything else (an unknown or empty entry) answers 400
//     invalid_request;
//   - result: ok, failed or skipped;
//   - since: an RFC 3339 time, a date or a duration back from now ("24h");
//   - limit: rows per page, 1..10000, default 100;
//   - before: a stream sequence; rows older than it (the next page is
//     before=<seq of the last row>, with the same filters).
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r, time.Now())
	if err != nil {
		writeAPIError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.proj.History(f))
}

// parseFilter reads the history filter from the query string. since is an
// RFC 3339 time or a duration back from now ("24h").
func parseFilter(r *http.Request, now time.Time) (projections.Filter, error) {
	q := r.URL.Query()
	f := projections.Filter{
		Node:   q.Get("node"),
		Table:  q.Get("table"),
		Type:   q.Get("type"),
		Result: q.Get("result"),
		Limit:  projections.DefaultQueryLimit,
	}
	if f.Table != "" && f.Table != events.NodeTable && !events.ValidTable(f.Table) {
		return f, apierr.New(apierr.InvalidTable, "invalid table name %q", f.Table)
	}
	for _, v := range q["exclude"] {
		if v == "" {
			continue
		}
		for _, p := range strings.Split(v, ",") {
			if !projections.KnownTypePrefix(p) {
				return f, apierr.New(apierr.InvalidRequest, "exclude takes event types or families of them (e.g. table.stats,command), not %q", p)
			}
			f.Exclude = append(f.Exclude, p)
		}
	}
	switch f.Result {
	case "", events.ResultOK, events.ResultFailed, events.ResultSkipped:
	default:
		return f, apierr.New(apierr.InvalidRequest, "result must be ok, failed or skipped, not %q", f.Result)
	}
	if v := q.Get("since"); v != "" {
		t, err := parseSince(v, now)
		if err != nil {
			return f, err
		}
		f.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistoryLimit {
			return f, apierr.New(apierr.InvalidRequest, "limit must be 1..%d, not %q", maxHistoryLimit, v)
		}
		f.Limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return f, apierr.New(apierr.InvalidRequest, "before must be a stream sequence, not %q", v)
		}
		f.Before = n
	}
	return f, nil
}

func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if !strings.ContainsAny(v, "T:") {
		if t, err := time.Parse("2006-01-02", v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, apierr.New(apierr.InvalidRequest, "since must be an RFC 3339 time or a duration like 24h, not %q", v)
}

// GET /healthz: 200 once the stream is replayed and NATS is connected, and
// while every check of Config.Checks passes (body.checks names each
// failing one with its error).
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	st := s.cons.Status()
	body := map[string]any{
		"status":   "ok",
		"nats":     s.nc.Status().String(),
		"consumer": st,
	}
	failing := map[string]string{}
	for name, check := range s.cfg.Checks {
		if err := check(); err != nil {
			failing[name] = err.Error()
		}
	}
	if len(failing) > 0 {
		body["checks"] = failing
	}
	status := http.StatusOK
	switch {
	case !s.nc.IsConnected():
		body["status"] = "disconnected"
		status = http.StatusServiceUnavailable
	case !st.Ready:
		body["status"] = "replaying"
		status = http.StatusServiceUnavailable
	case len(failing) > 0:
		body["status"] = "failing"
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}
