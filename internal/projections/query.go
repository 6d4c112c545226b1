package projections

import (
	"slices"
	"strings"
)

// StatesWorstFirst lists every card state, failures first: degraded,
// writes_failing, disk_full, restoring, then the work in progress
// (compacting, backing_up, verifying), then ok. It is the order of the
// dashboard's counts and of its table list.
func StatesWorstFirst() []string {
	return []string{StateDegraded, StateWritesFailing, StateDiskFull, StateRestoring, StateCompacting, StateBackingUp, StateVerifying, StateOK}
}

// StateRank is a state's place in StatesWorstFirst (0: the worst); an
// unknown state ranks after every known one.
func StateRank(state string) int {
	switch state {
	case StateDegraded:
		return 0
	case StateWritesFailing:
		return 1
	case StateDiskFull:
		return 2
	case StateRestoring:
		return 3
	case StateCompacting:
		return 4
	case StateBackingUp:
		return 5
	case StateVerifying:
		return 6
	case StateOK:
		return 7
	}
	return 8
}

// CardQuery selects a page of cards (State.QueryCards). Its zero value
// selects every card.
type CardQuery struct {
	// States keeps the cards in any of these states; empty: every state.
	States []string
	// Name keeps the cards whose table name holds it.
	Name string
	// Node keeps that node's cards; "": every node.
	Node string
	// Offset skips as many matching cards; Limit bounds the page (<= 0:
	// no bound).
	Offset, Limit int
}

// StateCount is how many cards are in one state.
type StateCount struct {
	State  string `json:"state"`
	Tables int    `json:"tables"`
}

// NodeCount is how many cards one node has.
type NodeCount struct {
	Node   string `json:"node"`
	Tables int    `json:"tables"`
}

// CardPage is a page of cards and the counts around it.
type CardPage struct {
	// Cards are copies of the page's cards, worst state first, then by
	// table, then by node.
	Cards []Card
	// Total counts every card; Matched the cards every filter keeps.
	Total, Matched int
	// States counts, for every state worst first (zeros too), the cards
	// that the name and node filters keep: what the state filter would
	// select.
	States []StateCount
	// Nodes counts the cards of every node (no filter), by node name.
	Nodes []NodeCount
}

// QueryCards selects, counts and pages the cards. Only the cards of the
// page are copied.
func (s *State) QueryCards(q CardQuery) CardPage {
	order := StatesWorstFirst()
	byState := make([]int, len(order)+1)
	byNode := map[string]int{}
	var matched []*Card
	for k, c := range s.cards {
		byNode[k.Node]++
		if q.Node != "" && k.Node != q.Node || !strings.Contains(k.Table, q.Name) {
			continue
		}
		byState[StateRank(c.State)]++
		if len(q.States) > 0 && !slices.Contains(q.States, c.State) {
			continue
		}
		matched = append(matched, c)
	}
	page := CardPage{Total: len(s.cards), Matched: len(matched)}
	lo := min(max(q.Offset, 0), len(matched))
	hi := len(matched)
	if q.Limit > 0 {
		hi = min(lo+q.Limit, hi)
	}
	matched = firstSorted(matched, hi)
	page.Cards = make([]Card, 0, hi-lo)
	for _, c := range matched[lo:hi] {
		page.Cards = append(page.Cards, c.clone())
	}
	page.States = make([]StateCount, len(order))
	for _, st := range order {
		page.States[StateRank(st)] = StateCount{State: st, Tables: byState[StateRank(st)]}
	}
	page.Nodes = make([]NodeCount, 0, len(byNode))
	for n, count := range byNode {
		page.Nodes = append(page.Nodes, NodeCount{Node: n, Tables: count})
	}
	slices.SortFunc(page.Nodes, func(a, b NodeCount) int { return strings.Compare(a.Node, b.Node) })
	return page
}

// compareWorstFirst orders cards by state rank, then table, then node.
func compareWorstFirst(a, b *Card) int {
	if d := StateRank(a.State) - StateRank(b.State); d != 0 {
		return d
	}
	if c := strings.Compare(a.Table, b.Table); c != 0 {
		return c
	}
	return strings.Compare(a.Node, b.Node)
}

// firstSorted returns the k cards of cs that sort first, sorted
// (compareWorstFirst). The first pages of many cards are the common
// request: a bounded heap finds them in O(n log k), not the O(n log n) of
// sorting them all.
func firstSorted(cs []*Card, k int) []*Card {
	if k >= len(cs)/2 {
		slices.SortFunc(cs, compareWorstFirst)
		return cs[:k]
	}
	if k == 0 {
		return nil
	}
	// h is a max-heap of the k first seen so far: h[0] sorts last.
	h := cs[:k:k]
	for i := k/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for _, c := range cs[k:] {
		if compareWorstFirst(c, h[0]) < 0 {
			h[0] = c
			siftDown(h, 0)
		}
	}
	slices.SortFunc(h, compareWorstFirst)
	return h
}

// siftDown restores the max-heap h (by compareWorstFirst) below i.
func siftDown(h []*Card, i int) {
	for {
		big := i
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < len(h) && compareWorstFirst(h[c], h[big]) > 0 {
				big = c
			}
		}
		if big == i {
			return
		}
		h[i], h[big] = h[big], h[i]
		i = big
	}
}
