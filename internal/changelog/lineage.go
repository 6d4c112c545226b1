package changelog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrNotOnLineage: the position a replay starts from is not in the history
// of the table's current state (a backup of a generation that a restore to
// an earlier time left behind, or older than a salvage).
var ErrNotOnLineage = errors.New("position is not in the history of the table's current state")

// Journal names where a table's journal is.
type Journal struct {
	Archive string // <data>/journal/<table>
	// Live is the live database directory ("" when there is none); its
	// .log files are its generation's newest part.
	Live string
	// Current is the generation of the table's current state: the live
	// directory's (ReadGeneration) when it has one.
	Current uint64
}

// Replay says what to replay.
type Replay struct {
	From uint64 // a backup's position: ops after it are replayed
	// To, when not 0, is the last position to replay (a drill replays to
	// the live table's position); a journal that ends before it lost
	// writes.
	To uint64
	// At, when not zero, stops before the first op whose time is after it
	// (a point-in-time restore). An op's time is the time of the last
	// timed batch at or before it.
	At time.Time
	// Want, when not 0, is a position the table is known to have reached
	// (its acknowledged writes): a journal that ends before it lost
	// writes. Ignored with To or At.
	Want uint64
	// WantSlack is how far short of Want the journal may end: 1 when Want
	// is the position of a database just opened (goleveldb's recovery
	// moves the sequence one past the last write it replayed), else 0.
	// The same holds for To.
	WantSlack uint64
}

// ReplayResult says what a replay did.
type ReplayResult struct {
	Records  int64     // ops applied
	Last     uint64    // position of the last op applied; Replay.From when none
	LastTime time.Time // its time (zero when unknown)
	// Lost, when not empty, says why writes after Last could not be
	// replayed: damage (file and offset) or a gap in the journal.
	Lost string
}

// link is one generation of a lineage and the sequence range to replay.
type link struct {
	gen   uint64
	after uint64 // replay sequences after this one
	upTo  uint64 // and up to this one (0: to the end)
	slack uint64 // how far short of upTo the generation's journal may end
}

// Lineage reads the history of the table's current state: the generations
// from the one holding from to the current, each with the range of
// sequence numbers that belongs to that history.
func (j Journal) lineage(from uint64) ([]link, error) {
	genOf, err := j.generations()
	if err != nil {
		return nil, err
	}
	fromGen, fromSeq := SplitPosition(from)
	var chain []link
	cur := genOf(j.Current)
	upTo, slack := uint64(0), uint64(0)
	for {
		l := link{gen: cur.Number, after: cur.SeqBase, upTo: upTo, slack: slack}
		if cur.Number == fromGen {
			if upTo != 0 && fromSeq > upTo {
				return nil, fmt.Errorf("%w: %d is after generation %d's part of it (up to %d)",
					ErrNotOnLineage, from, cur.Number, PositionOf(cur.Number, upTo))
			}
			l.after = max(l.after, fromSeq)
			chain = append(chain, l)
			break
		}
		chain = append(chain, l)
		p, ok := cur.Parent()
		if !ok || p >= cur.Number {
			return nil, fmt.Errorf("%w: %d (generation %d; the history goes back to generation %d)",
				ErrNotOnLineage, from, fromGen, cur.Number)
		}
		_, upTo = SplitPosition(cur.From)
		// A rewrite starts from the table's position at its swap, which
		// is one past the last write when nothing was written since the
		// database was opened (see Replay.WantSlack): a table compacted
		// right after a restart or a wake from sleep.
		slack = 0
		if cur.Reason == "rewrite" {
			slack = 1
		}
		cur = genOf(p)
	}
	for a, b := 0, len(chain)-1; a < b; a, b = a+1, b-1 {
		chain[a], chain[b] = chain[b], chain[a]
	}
	return chain, nil
}

// files lists the journal files of generation gen, archived and live (a
// file in both is read from the live directory), by file number.
//
// The live directory is listed first: goleveldb puts a journal into the
// archive before it removes it from there, so that a file moving meanwhile
// is seen in one listing or the other (and a live file gone by the time it
// is read is read from the archive: JournalFile.Alt).
func (j Journal) files(gen uint64) ([]JournalFile, error) {
	var live []JournalFile
	if j.Live != "" && gen == j.Current {
		var err error
		if live, err = LiveJournals(j.Live, gen); err != nil {
			return nil, err
		}
	}
	arch, err := ArchivedJournals(j.Archive)
	if err != nil {
		return nil, err
	}
	byNum := map[uint64]JournalFile{}
	for _, f := range arch {
		if f.Gen == gen {
			byNum[f.Num] = f
		}
	}
	for _, f := range live {
		f.Alt = filepath.Join(j.Archive, ArchivedName(f.Gen, f.Num))
		byNum[f.Num] = f
	}
	out := make([]JournalFile, 0, len(byNum))
	for _, f := range byNum {
		out = append(out, f)
	}
	sortFiles(out)
	return out, nil
}

// errStop ends a walk early without an error.
var errStop = errors.New("stop")

// Replay calls fn with every op of the table's history after r.From (up
// to r.To, or to r.At), in order, each Op.Seq set to its position. It
// stops at the first damage or gap and says so in ReplayResult.Lost. An
// error is a failure to read the archive, ErrNotOnLineage, or fn's.
func (j Journal) Replay(r Replay, fn func(Op) error) (ReplayResult, error) {
	res := ReplayResult{Last: r.From}
	chain, err := j.lineage(r.From)
	if err != nil {
		return res, err
	}
	var toGen, toSeq uint64
	if r.To != 0 {
		toGen, toSeq = SplitPosition(r.To)
	}
	for i, l := range chain {
		if r.To != 0 && l.gen > toGen {
			break
		}
		if i > 0 {
			// The previous generation reached this one's starting point.
			res.Last = PositionOf(l.gen, l.after)
		}
		if r.To != 0 && l.gen == toGen && (l.upTo == 0 || toSeq < l.upTo) {
			l.upTo = toSeq
		}
		if r.To != 0 && l.gen == toGen {
			l.slack = r.WantSlack
		}
		done, err := j.replayGen(l, r.At, &res, fn)
		if err != nil || done || res.Lost != "" {
			return res, err
		}
	}
	if r.Want != 0 && r.To == 0 && r.At.IsZero() && res.Last+r.WantSlack < r.Want {
		res.Lost = fmt.Sprintf("the journal ends at position %d; the table had acknowledged writes up to position %d", res.Last, r.Want)
	}
	return res, nil
}

// replayGen replays one link; done is true when r.At stopped it.
func (j Journal) replayGen(l link, at time.Time, res *ReplayResult, fn func(Op) error) (done bool, _ error) {
	files, err := j.files(l.gen)
	if err != nil {
		return false, err
	}
	next := l.after + 1 // the sequence the next record must start at (once past l.after)
	var clock time.Time
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if errors.Is(err, os.ErrNotExist) && f.Alt != "" {
			b, err = os.ReadFile(f.Alt)
		}
		if err != nil {
			return false, fmt.Errorf("changelog: %w", err)
		}
		name := filepath.Base(f.Path)
		first := true
		_, werr := walkBatches(name, b, 0, 0, func(bt batch) error {
			seq, count, off, last := bt.seq, bt.count, bt.off, bt.last()
			ops, err := bt.ops(name)
			if err != nil {
				return err
			}
			if first && seq == next+1 {
				// A journal that a reopen started: goleveldb's recovery
				// left the sequence one past the last write it replayed.
				next = seq
			}
			first = false
			if count == 0 || last < next {
				return nil // before the range
			}
			if seq > next {
				res.Lost = fmt.Sprintf("journal of generation %d is missing positions %d to %d (before %s offset %d)",
					l.gen, PositionOf(l.gen, next), PositionOf(l.gen, seq-1), name, off)
				return errStop
			}
			for _, op := range ops {
				if !op.Time.IsZero() {
					clock = op.Time
				}
				if op.Seq < next {
					continue
				}
				if l.upTo != 0 && op.Seq > l.upTo {
					return errStop
				}
				if !at.IsZero() && !clock.IsZero() && clock.After(at) {
					done = true
					return errStop
				}
				op.Time = clock
				op.Seq = PositionOf(l.gen, op.Seq)
				if err := fn(op); err != nil {
					return err
				}
				res.Records++
				res.Last = op.Seq
				res.LastTime = clock
			}
			res.Last = PositionOf(l.gen, last) // the batch's trailing ops included
			next = last + 1
			if l.upTo != 0 && next > l.upTo {
				return errStop
			}
			return nil
		})
		var d *Damage
		switch {
		case errors.As(werr, &d):
			res.Lost = d.Error()
			return false, nil
		case errors.Is(werr, errStop):
			if res.Lost != "" || done || (l.upTo != 0 && next > l.upTo) {
				return done, nil
			}
		case werr != nil:
			return false, werr
		}
		if l.upTo != 0 && next > l.upTo {
			return false, nil
		}
	}
	if l.upTo != 0 && next+l.slack <= l.upTo {
		res.Lost = fmt.Sprintf("journal of generation %d ends at position %d; the table went on to %d",
			l.gen, PositionOf(l.gen, next-1), PositionOf(l.gen, l.upTo))
	}
	return false, nil
}

// Contains reports whether pos is in the history of the table's current
// state (a replay from it can work).
func (j Journal) Contains(pos uint64) (bool, error) {
	_, err := j.lineage(pos)
	if errors.Is(err, ErrNotOnLineage) {
		return false, nil
	}
	return err == nil, err
}

// Start is the position before the oldest write the journal holds in the
// history of the table's current state: a replay from it reads every kept
// write (with retention, the archive keeps the writes from the oldest
// backup on).
func (j Journal) Start() (uint64, error) {
	genOf, err := j.generations()
	if err != nil {
		return 0, err
	}
	// The generations of the history, newest first.
	var chain []Generation
	for cur := genOf(j.Current); ; {
		chain = append(chain, cur)
		p, ok := cur.Parent()
		if !ok || p >= cur.Number {
			break
		}
		cur = genOf(p)
	}
	start := PositionOf(chain[0].Number, chain[0].SeqBase)
	for _, g := range chain {
		files, err := j.files(g.Number)
		if err != nil {
			return 0, err
		}
		if len(files) == 0 {
			continue // no write of its own (or pruned)
		}
		first, ok, err := FirstSequence(files[0].Path)
		if err != nil {
			return 0, err
		}
		start = PositionOf(g.Number, g.SeqBase)
		if ok && first > g.SeqBase+1 {
			start = PositionOf(g.Number, first-1)
		}
	}
	return start, nil
}

// generations returns the record of each generation: the archive's, the
// live directory's for the current one (when it can be read), and for a
// generation without a record generation 0 or a root.
func (j Journal) generations() (func(uint64) Generation, error) {
	gens, err := archivedGenerations(j.Archive)
	if err != nil {
		return nil, err
	}
	if j.Live != "" {
		if g, err := ReadGeneration(j.Live); err == nil && g.Number == j.Current {
			gens[g.Number] = g
		}
	}
	return func(n uint64) Generation {
		if g, ok := gens[n]; ok {
			return g
		}
		return Generation{Number: n, Root: n != 0}
	}, nil
}

// Generation is generation n's record (the archive's, or the live
// directory's for the current one).
func (j Journal) Generation(n uint64) (Generation, error) {
	genOf, err := j.generations()
	if err != nil {
		return Generation{}, err
	}
	return genOf(n), nil
}
