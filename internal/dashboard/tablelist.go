package dashboard

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/projections"
)

const (
	// defaultTablesLimit is the page size of GET /api/tablepage without limit.
	defaultTablesLimit = 100
	// maxTablesLimit bounds one page of GET /api/tables.
	maxTablesLimit = 1000
)

// nameQuery is what q may hold: a part of a table name.
var nameQuery = regexp.MustCompile(`^[a-z0-9_-]{0,64}$`)

// tablesPage is the answer of GET /api/tablepage.
type tablesPage struct {
	// Tables is the page: cards worst state first (degraded,
	// writes_failing, disk_full, restoring, compacting, backing_up,
	// verifying, ok), then by table, then by node.
	Tables []cardView `json:"tables"`
	// Total counts every card; Filtered the cards the filters keep (the
	// pages hold Filtered cards in all).
	Total    int `json:"total"`
	Filtered int `json:"filtered"`
	Offset   int `json:"offset"`
	Limit    int `json:"limit"`
	// States counts the cards by state, every state worst first, zeros
	// included, under the q and node filters but not the state filter:
	// how many cards each state filter would keep.
	States []projections.StateCount `json:"states"`
	// Nodes counts every node's cards, whatever the filters.
	Nodes []projections.NodeCount `json:"nodes"`
}

// GET /api/tables?state=&q=&node=&limit=&offset=
//
// The health cards, worst state first (then by table, then by node), as a
// JSON array (without parameters: every card, as always). Every parameter
// is optional and they combine:
//   - state: a card state, or several comma-separated (repeating the
//     parameter adds to them), e.g. state=degraded,disk_full;
//   - q: part of the table name (letters are matched in lower case);
//   - node: that node's cards;
//   - limit: cards per page, 1..1000 (default: every card);
//   - offset: cards skipped, default 0 (a page past the end is empty).
//
// X-Total-Count and X-Filtered-Count say how many cards there are and how
// many the filters keep. A bad value answers 400 invalid_request.
func (s *Server) handleTables(w http.ResponseWriter, r *http.Request) {
	q, err := parseCardQuery(r, 0)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	out := s.tablePage(q)
	w.Header().Set("X-Total-Count", strconv.Itoa(out.Total))
	w.Header().Set("X-Filtered-Count", strconv.Itoa(out.Filtered))
	writeJSON(w, http.StatusOK, out.Tables)
}

// GET /api/tablepage?state=&q=&node=&limit=&offset=
//
// What the page shows: a page of GET /api/tables (same parameters; limit
// defaults to 100) with the counts around it (tablesPage).
func (s *Server) handleTablePage(w http.ResponseWriter, r *http.Request) {
	q, err := parseCardQuery(r, defaultTablesLimit)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.tablePage(q))
}

// tablePage answers q from the projection.
func (s *Server) tablePage(q projections.CardQuery) tablesPage {
	now := time.Now()
	var out tablesPage
	s.proj.Read(func(st *projections.State) {
		p := st.QueryCards(q)
		out = tablesPage{
			Tables:   viewsOf(st, p.Cards, now, listSeriesPoints),
			Total:    p.Total,
			Filtered: p.Matched,
			Offset:   q.Offset,
			Limit:    q.Limit,
			States:   p.States,
			Nodes:    p.Nodes,
		}
	})
	return out
}

// parseCardQuery reads the filters and the page of GET /api/tables.
// limit is the page size when the request gives none (0: every card).
func parseCardQuery(r *http.Request, limit int) (projections.CardQuery, error) {
	v := r.URL.Query()
	q := projections.CardQuery{Limit: limit}
	for _, list := range v["state"] {
		for _, st := range strings.Split(list, ",") {
			if !slices.Contains(projections.States(), st) {
				return q, apierr.New(apierr.InvalidRequest, "state must be one of %s (comma-separated for several), not %q",
					strings.Join(projections.StatesWorstFirst(), ", "), events.Echo(st))
			}
			q.States = append(q.States, st)
		}
	}
	q.Name = strings.ToLower(v.Get("q"))
	if !nameQuery.MatchString(q.Name) {
		return q, apierr.New(apierr.InvalidRequest, "q is part of a table name: at most 64 letters, digits, _ and -, not %q", events.Echo(v.Get("q")))
	}
	if q.Node = v.Get("node"); q.Node != "" && !events.ValidNode(q.Node) {
		return q, apierr.New(apierr.InvalidRequest, "invalid node name %q: want one subject token (letters, digits, _ and -)", events.Echo(q.Node))
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxTablesLimit {
			return q, apierr.New(apierr.InvalidRequest, "limit must be 1..%d, not %q", maxTablesLimit, events.Echo(s))
		}
		q.Limit = n
	}
	if s := v.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, apierr.New(apierr.InvalidRequest, "offset must be 0 or more, not %q", events.Echo(s))
		}
		q.Offset = n
	}
	return q, nil
}
