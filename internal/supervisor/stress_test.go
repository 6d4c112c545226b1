package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// TestManyCommandsWhileWriting: several clients send random commands to
// three tables while writers write; every accepted command ends, no two
// operations overlap on a table, and every acknowledged write is there.
func TestManyCommandsWhileWriting(t *testing.T) {
	pol := quiet()
	pol.Retention = 3
	h := start(t, harnessOpt{cfg: Config{Defaults: pol, QueueSize: 4}})
	names := []string{"a", "b", "c"}
	for _, n := range names {
		fill(t, h.open(n), 100, 0)
	}
	bodies := []struct {
		verb string
		body events.CommandBody
	}{
		{events.VerbCompact, events.CommandBody{Force: true, Mode: "native"}},
		{events.VerbCompact, events.CommandBody{Force: true, Mode: "rewrite"}},
		{events.VerbCompact, events.CommandBody{}},
		{events.VerbBackup, events.CommandBody{}},
		{events.VerbVerify, events.CommandBody{}},
		{events.VerbStatus, events.CommandBody{}},
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var tickets []*Ticket
	busy := 0
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 7))
			for i := 0; i < 25; i++ {
				b := bodies[r.IntN(len(bodies))]
				tk, err := h.sup.Submit(ctx, Command{Table: names[r.IntN(len(names))], Verb: b.verb, Body: b.body})
				mu.Lock()
				switch {
				case err == nil:
					tickets = append(tickets, tk)
				case apierr.CodeOf(err) == apierr.Busy:
					busy++
				default:
					t.Errorf("submit: %v", err)
				}
				mu.Unlock()
			}
		}(c)
	}
	want := map[string]map[string]string{}
	for _, n := range names {
		want[n] = map[string]string{}
		wg.Add(1)
		go func(n string, w map[string]string) {
			defer wg.Done()
			tb, _ := h.sup.Table(n)
			for i := 0; i < 300; i++ {
				k := fmt.Sprintf("w%03d", i%120)
				v, _ := json.Marshal(i)
				var err error
				if i%7 == 6 {
					err = tb.Delete(ctx, k)
					if err == nil {
						delete(w, k)
					}
				} else {
					err = tb.Put(ctx, k, v)
					if err == nil {
						w[k] = string(v)
					}
				}
				if err != nil {
					t.Errorf("write %s/%s: %v", n, k, err)
					return
				}
			}
		}(n, want[n])
	}
	wg.Wait()
	for _, tk := range tickets {
		h.wait(tk)
	}
	t.Logf("%d commands accepted, %d refused busy", len(tickets), busy)

	for _, n := range names {
		tb, _ := h.sup.Table(n)
		got := contents(t, tb)
		for k, v := range want[n] {
			if got[k] != v {
				t.Errorf("table %s key %s: %q, want %q", n, k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[n][k]; !ok && k[0] == 'w' {
				t.Errorf("table %s: deleted key %s is back", n, k)
			}
		}
		// One operation at a time on each table.
		running := ""
		for _, e := range h.rec.of(n, events.CompactionStarted, events.CompactionCompleted, events.CompactionFailed,
			events.BackupStarted, events.BackupCompleted, events.BackupFailed) {
			switch e.Type {
			case events.CompactionStarted, events.BackupStarted:
				if running != "" {
					t.Errorf("table %s: %s while %s", n, e.Type, running)
				}
				running = e.CommandID
			default:
				if running != e.CommandID {
					t.Errorf("table %s: outcome of %s while %s ran", n, e.CommandID, running)
				}
				running = ""
			}
		}
		for _, e := range h.rec.of(n, events.CompactionFailed, events.BackupFailed, events.VerifyFailed) {
			t.Errorf("table %s: %s: %s", n, e.Type, e.Error)
		}
	}
}
