package projections

import (
	"fmt"
	"slices"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

// QueryCards: failures first, then by table and node; the name, node and
// state filters combine; the counts by state ignore the state filter and
// list every state worst first; the node counts ignore every filter; a page
// past the end is empty.
func TestQueryCards(t *testing.T) {
	st := NewState(Options{})
	seq := uint64(0)
	apply := func(e events.Event) {
		seq++
		st.Apply(seq, e)
	}
	for i := 0; i < 30; i++ {
		apply(ev(i, events.TableCreated, fmt.Sprintf("t%02d", i)))
		apply(ev(i, events.TableCreated, fmt.Sprintf("t%02d", i), node("n2")))
	}
	apply(ev(40, events.TableDegraded, "t25", failed("checksum mismatch")))
	apply(ev(41, events.CompactionStarted, "t03", node("n2")))
	apply(ev(42, events.TableStats, "t07", data("bytes", 10, "writes", "failing", "writes_code", "no_space")))

	keys := func(cs []Card) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Node+"/"+c.Table)
		}
		return out
	}
	p := st.QueryCards(CardQuery{Limit: 4})
	if got := keys(p.Cards); !slices.Equal(got, []string{"n1/t25", "n1/t07", "n2/t03", "n1/t00"}) {
		t.Fatalf("first page %v: want degraded, disk full, compacting, then ok by name", got)
	}
	if p.Total != 60 || p.Matched != 60 {
		t.Fatalf("total %d matched %d", p.Total, p.Matched)
	}
	want := []StateCount{{"degraded", 1}, {"writes_failing", 0}, {"disk_full", 1}, {"restoring", 0}, {"compacting", 1}, {"backing_up", 0}, {"verifying", 0}, {"ok", 57}}
	if !slices.Equal(p.States, want) {
		t.Fatalf("states %v, want %v", p.States, want)
	}
	if !slices.Equal(p.Nodes, []NodeCount{{"n1", 30}, {"n2", 30}}) {
		t.Fatalf("nodes %v", p.Nodes)
	}

	p = st.QueryCards(CardQuery{Name: "t2", Node: "n1", States: []string{StateOK}, Offset: 2, Limit: 3})
	if got := keys(p.Cards); !slices.Equal(got, []string{"n1/t22", "n1/t23", "n1/t24"}) || p.Matched != 9 || p.Total != 60 {
		t.Fatalf("t2 on n1, ok, from 2: %v, matched %d", got, p.Matched)
	}
	if p.States[StateRank(StateDegraded)].Tables != 1 || p.States[StateRank(StateOK)].Tables != 9 {
		t.Fatalf("counts of t2 on n1 %v: want 1 degraded (t25) and 9 ok", p.States)
	}
	if !slices.Equal(p.Nodes, []NodeCount{{"n1", 30}, {"n2", 30}}) {
		t.Fatalf("node counts filtered: %v", p.Nodes)
	}
	p = st.QueryCards(CardQuery{States: []string{StateDegraded, StateCompacting}})
	if got := keys(p.Cards); !slices.Equal(got, []string{"n1/t25", "n2/t03"}) {
		t.Fatalf("degraded or compacting: %v", got)
	}
	if p = st.QueryCards(CardQuery{Offset: 60, Limit: 10}); len(p.Cards) != 0 || p.Matched != 60 {
		t.Fatalf("past the end: %d cards, matched %d", len(p.Cards), p.Matched)
	}
	if p = st.QueryCards(CardQuery{Name: "nothing"}); len(p.Cards) != 0 || p.Matched != 0 || p.States[StateRank(StateOK)].Tables != 0 {
		t.Fatalf("no match: %+v", p)
	}
	// The page is a copy.
	p = st.QueryCards(CardQuery{Name: "t25", Node: "n1"})
	p.Cards[0].Counters["x"] = 1
	if st.QueryCards(CardQuery{Name: "t25", Node: "n1"}).Cards[0].Counters["x"] != 0 {
		t.Fatal("the page shares the state's counters")
	}
	for i, s := range StatesWorstFirst() {
		if StateRank(s) != i {
			t.Fatalf("rank of %s %d, want %d", s, StateRank(s), i)
		}
	}
	if len(StatesWorstFirst()) != len(States()) {
		t.Fatalf("StatesWorstFirst %v misses some of %v", StatesWorstFirst(), States())
	}
}

// firstSorted finds the same first cards as a full sort, at every k.
func TestFirstSorted(t *testing.T) {
	states := StatesWorstFirst()
	var all []*Card
	for i := range 200 {
		all = append(all, &Card{Node: fmt.Sprintf("n%d", i%3), Table: fmt.Sprintf("t%03d", (i*37)%101), State: states[(i*7)%len(states)]})
	}
	want := slices.Clone(all)
	slices.SortFunc(want, compareWorstFirst)
	for k := 0; k <= len(all); k++ {
		got := firstSorted(slices.Clone(all), k)
		if !slices.Equal(got, want[:k]) {
			t.Fatalf("k=%d: the first cards differ from a full sort's", k)
		}
	}
}
