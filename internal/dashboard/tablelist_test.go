package dashboard

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

// tablesJSON is the answer of GET /api/tablepage.
type tablesJSON struct {
	Tables   []cardJSON `json:"tables"`
	Total    int        `json:"total"`
	Filtered int        `json:"filtered"`
	Offset   int        `json:"offset"`
	Limit    int        `json:"limit"`
	States   []struct {
		State  string `json:"state"`
		Tables int    `json:"tables"`
	} `json:"states"`
	Nodes []struct {
		Node   string `json:"node"`
		Tables int    `json:"tables"`
	} `json:"nodes"`
}

func (p tablesJSON) keys() []string {
	var out []string
	for _, c := range p.Tables {
		out = append(out, c.Node+"/"+c.Table)
	}
	return out
}

func (p tablesJSON) count(state string) int {
	for _, s := range p.States {
		if s.State == state {
			return s.Tables
		}
	}
	return -1
}

// GET /api/tablepage pages the cards worst state first and filters them by
// state, name and node; the counts by state follow the name and node
// filters; bad values are 400 invalid_request.
func TestTablesQuery(t *testing.T) {
	e := setup(t, Config{})
	var evs []events.Event
	for i := 0; i < 150; i++ {
		evs = append(evs, ev(events.TableCreated, "n1", fmt.Sprintf("t%03d", i)))
	}
	evs = append(evs,
		ev(events.TableCreated, "n2", "t005"),
		ev(events.TableDegraded, "n1", "t120", withResult("failed", 0, "checksum mismatch")),
		ev(events.RestoreStarted, "n2", "t005"),
	)
	e.publish(evs...)

	get := func(query string) tablesJSON {
		t.Helper()
		var p tablesJSON
		if resp := e.do("GET", "/api/tablepage"+query, nil, nil, &p); resp.StatusCode != 200 {
			t.Fatalf("GET /api/tablepage%s: %d", query, resp.StatusCode)
		}
		return p
	}
	p := get("")
	if len(p.Tables) != defaultTablesLimit || p.Total != 151 || p.Filtered != 151 || p.Limit != defaultTablesLimit || p.Offset != 0 {
		t.Fatalf("default page: %d cards, total %d, filtered %d, limit %d", len(p.Tables), p.Total, p.Filtered, p.Limit)
	}
	if got := p.keys()[:3]; !slices.Equal(got, []string{"n1/t120", "n2/t005", "n1/t000"}) {
		t.Fatalf("first cards %v: want the degraded one, the restoring one, then by name", got)
	}
	var order []string
	for _, s := range p.States {
		order = append(order, s.State)
	}
	if strings.Join(order, " ") != "degraded writes_failing disk_full restoring compacting backing_up verifying ok" ||
		p.count("degraded") != 1 || p.count("restoring") != 1 || p.count("ok") != 149 {
		t.Fatalf("counts %+v", p.States)
	}
	if len(p.Nodes) != 2 || p.Nodes[0].Node != "n1" || p.Nodes[0].Tables != 150 || p.Nodes[1].Tables != 1 {
		t.Fatalf("nodes %+v", p.Nodes)
	}

	p = get("?offset=148&limit=10")
	if got := p.keys(); !slices.Equal(got, []string{"n1/t147", "n1/t148", "n1/t149"}) || p.Offset != 148 || p.Limit != 10 {
		t.Fatalf("last page %v", got)
	}
	p = get("?q=T12&node=n1")
	if p.Filtered != 10 || p.Total != 151 || p.keys()[0] != "n1/t120" || p.count("degraded") != 1 || p.count("ok") != 9 {
		t.Fatalf("t12 on n1: %v, filtered %d, counts %+v", p.keys(), p.Filtered, p.States)
	}
	p = get("?q=t005&node=n2")
	if !slices.Equal(p.keys(), []string{"n2/t005"}) || p.count("restoring") != 1 || p.count("ok") != 0 {
		t.Fatalf("t005 on n2: %v %+v", p.keys(), p.States)
	}
	p = get("?state=degraded,restoring")
	if !slices.Equal(p.keys(), []string{"n1/t120", "n2/t005"}) || p.Filtered != 2 || p.count("ok") != 149 {
		t.Fatalf("degraded or restoring: %v, counts %+v", p.keys(), p.States)
	}
	if p = get("?state=ok&state=degraded&q=t12"); p.Filtered != 10 {
		t.Fatalf("repeated state: filtered %d", p.Filtered)
	}
	if p = get("?offset=1000"); len(p.Tables) != 0 || p.Filtered != 151 {
		t.Fatalf("past the end: %d cards", len(p.Tables))
	}
	if p = get(fmt.Sprintf("?limit=%d", maxTablesLimit)); len(p.Tables) != 151 {
		t.Fatalf("limit %d: %d cards", maxTablesLimit, len(p.Tables))
	}

	for _, bad := range []string{
		"state=broken", "state=", "state=ok,", "state=OK",
		"q=" + url.QueryEscape("a b"), "q=" + url.QueryEscape("t.1"), "q=" + strings.Repeat("a", 65),
		"node=" + url.QueryEscape("n.1"), "node=-n1",
		"limit=0", "limit=-1", fmt.Sprintf("limit=%d", maxTablesLimit+1), "limit=ten",
		"offset=-1", "offset=x",
	} {
		e.expectError("GET", "/api/tables?"+bad, nil, nil, 400, "invalid_request")
		e.expectError("GET", "/api/tablepage?"+bad, nil, nil, 400, "invalid_request")
	}

	// GET /api/tables stays the array of cards it always was, the same
	// filters and page applied, the counts in headers.
	var all, some []cardJSON
	resp := e.do("GET", "/api/tables", nil, nil, &all)
	if resp.StatusCode != 200 || len(all) == 0 || resp.Header.Get("X-Total-Count") != fmt.Sprint(len(all)) {
		t.Fatalf("GET /api/tables: %d, %d cards, X-Total-Count %q", resp.StatusCode, len(all), resp.Header.Get("X-Total-Count"))
	}
	resp = e.do("GET", "/api/tables?limit=1&offset=1", nil, nil, &some)
	if resp.StatusCode != 200 || len(some) != 1 || some[0].Table != all[1].Table || some[0].Node != all[1].Node {
		t.Fatalf("GET /api/tables?limit=1&offset=1: %d %+v, want the second of %d", resp.StatusCode, some, len(all))
	}
	if resp.Header.Get("X-Filtered-Count") != fmt.Sprint(len(all)) {
		t.Fatalf("X-Filtered-Count %q, want %d", resp.Header.Get("X-Filtered-Count"), len(all))
	}
}
