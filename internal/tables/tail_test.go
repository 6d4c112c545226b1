package tables

import (
	"context"
	"testing"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// TestTailerReadsEveryWriteOnce: a Tailer read between bursts of writes
// (past journal flushes, across a rewrite and a restore, i.e. three
// generations) returns every record once, in order, each op at the
// position a replay from the start gives it; a generation change is
// announced before its first record.
func TestTailerReadsEveryWriteOnce(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	m := model{}
	tl := changelog.NewTailer(0)
	var got []changelog.Op
	var gens []uint64
	read := func() {
		t.Helper()
		j, err := tb.Journal()
		if err != nil {
			t.Fatal(err)
		}
		err = tl.Read(j, func(g changelog.Generation) error {
			gens = append(gens, g.Number)
			return nil
		}, func(r changelog.Record) error {
			ops, err := changelog.DecodeRecord(r.Data)
			if err != nil {
				return err
			}
			for _, op := range ops {
				op.Seq = changelog.PositionOf(r.Gen, op.Seq)
				got = append(got, op)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	m.churn(t, tb, "a", "one", 20)
	read()
	b, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "b", "two", 120) // flushes
	read()
	read() // nothing new
	if _, err := tb.Compact(ctx, ModeRewrite, nil); err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "c", "three", 10)
	read()
	if _, err := tb.RestoreFrom(ctx, b.ID, nil); err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "d", "four", 10)
	read()
	m.holds(t, tb, "the table")

	// What a replay of the whole history gives.
	j, err := tb.Journal()
	if err != nil {
		t.Fatal(err)
	}
	var want []changelog.Op
	if _, err := j.Replay(changelog.Replay{}, func(op changelog.Op) error {
		want = append(want, op)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(want) != 160*11 {
		t.Fatalf("tailer returned %d ops, the replay %d, want %d", len(got), len(want), 160*11)
	}
	for i := range want {
		if got[i].Seq != want[i].Seq || string(got[i].Key) != string(want[i].Key) || got[i].Kind != want[i].Kind {
			t.Fatalf("op %d: tailer %d %s %q, replay %d %s %q", i, got[i].Seq, got[i].Kind, got[i].Key, want[i].Seq, want[i].Kind, want[i].Key)
		}
	}
	if len(gens) != 2 || gens[0] != 1 || gens[1] != 2 {
		t.Fatalf("generations announced %v, want [1 2]", gens)
	}
	if tl.Position() != mustPosition(t, tb) {
		t.Fatalf("tailer at %d, table at %d", tl.Position(), mustPosition(t, tb))
	}
}

func mustPosition(t *testing.T, tb *Table) uint64 {
	t.Helper()
	p, err := tb.Position()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
