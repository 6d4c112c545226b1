// Package demo keeps a table busy with a steady mix of new keys, overwrites
// and deletes, so that every maintenance path (compaction and its skips,
// backups, verifies) has work to show within a minute or two.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// Writer is the part of a table the demo uses.
type Writer interface {
	Put(ctx context.Context, key string, value json.RawMessage) error
	Delete(ctx context.Context, key string) error
}

// Options shape the load. The demo alternates a busy phase (Rate operations
// per second for BusyFor) and a quiet one (QuietRate for QuietFor), so that
// some scheduled compactions find much dead space and run, and others find
// little and are skipped.
type Options struct {
	Rate      int           // operations per second while busy (default 100)
	QuietRate int           // operations per second while quiet (default 2)
	BusyFor   time.Duration // default 30s
	QuietFor  time.Duration // default 75s; negative: never quiet
	Keys      int           // size of the key space (default 2000)
	Padding   int           // bytes of filler per value (default 256)
	Seed      uint64
}

func (o Options) withDefaults() Options {
	if o.Rate <= 0 {
		o.Rate = 100
	}
	if o.Keys <= 0 {
		o.Keys = 2000
	}
	if o.Padding <= 0 {
		o.Padding = 256
	}
	if o.QuietRate <= 0 {
		o.QuietRate = 2
	}
	if o.BusyFor <= 0 {
		o.BusyFor = 30 * time.Second
	}
	if o.QuietFor == 0 {
		o.QuietFor = 75 * time.Second
	}
	return o
}

// Counts is what the demo did.
type Counts struct {
	Puts, Deletes, Unavailable int64
}

// Run writes to w until ctx is done, in busy and quiet phases: about 70%
// puts (many of them overwrites, as the key space is small), 30% deletes. While the table is
// unavailable (restoring, degraded) it waits and tries again; any other error
// ends the run and is returned with the counts so far.
func Run(ctx context.Context, w Writer, opts Options) (Counts, error) {
	opts = opts.withDefaults()
	rng := rand.New(rand.NewPCG(opts.Seed, uint64(time.Now().UnixNano())))
	tick := time.NewTicker(time.Second / time.Duration(opts.Rate))
	defer tick.Stop()
	busy, phaseEnd := true, time.Now().Add(opts.BusyFor)
	pad := strings.Repeat("x", opts.Padding)
	var c Counts
	for n := int64(0); ; n++ {
		select {
		case <-ctx.Done():
			return c, nil
		case <-tick.C:
		}
		if now := time.Now(); opts.QuietFor > 0 && now.After(phaseEnd) {
			busy = !busy
			rate, d := opts.QuietRate, opts.QuietFor
			if busy {
				rate, d = opts.Rate, opts.BusyFor
			}
			phaseEnd = now.Add(d)
			tick.Reset(time.Second / time.Duration(rate))
		}
		key := fmt.Sprintf("user-%05d", rng.IntN(opts.Keys))
		var err error
		if rng.IntN(10) < 7 {
			v, _ := json.Marshal(map[string]any{"n": n, "at": time.Now().UTC().Format(time.RFC3339Nano), "pad": pad})
			if err = w.Put(ctx, key, v); err == nil {
				c.Puts++
			}
		} else if err = w.Delete(ctx, key); err == nil {
			c.Deletes++
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return c, nil
		case apierr.CodeOf(err) == apierr.TableUnavailable, apierr.CodeOf(err) == apierr.NoSpace:
			// Restoring, degraded, or the disk is full: the table comes
			// back (or its writes do) without the demo.
			c.Unavailable++
			select {
			case <-ctx.Done():
				return c, nil
			case <-time.After(time.Second):
			}
		default:
			return c, fmt.Errorf("demo: write %s: %w", key, err)
		}
	}
}
