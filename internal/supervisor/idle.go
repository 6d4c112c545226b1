package supervisor

import (
	"runtime/debug"
	"time"
)

// freeEvery bounds how often sleepIdle hands freed memory back to the
// operating system.
const freeEvery = time.Minute

// sleepIdle puts the tables idle for Config.IdleClose to sleep (their
// database closed until the next request; see package tables, sleep.go)
// and gives fast writers the big write buffer (then hands the freed memory
// back to the operating system, at most once a minute), every IdleClose/4 (at
// least every second, at most every 30 s), until the supervisor stops. A
// table whose close fails sleeps all the same (its next open checks it);
// the failure is kept for NodeStatus (SleepErrors, LastSleepError).
func (s *Supervisor) sleepIdle() {
	defer s.workers.Done()
	every := min(max(s.cfg.IdleClose/4, time.Second), 30*time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var freed time.Time
	for {
		select {
		case <-s.stopping:
			return
		case <-tick.C:
		}
		slept, err := s.store.SleepIdle(s.workCtx, s.cfg.IdleClose)
		if err != nil && s.workCtx.Err() == nil {
			s.mu.Lock()
			s.sleepErrors++
			s.lastSleepErr = err.Error()
			s.mu.Unlock()
		}
		if slept > 0 && time.Since(freed) >= freeEvery {
			// The memtables of the tables put to sleep are garbage now;
			// Go would keep their pages for a while, and a node with
			// thousands of tables is sized by its resident memory.
			debug.FreeOSMemory()
			freed = time.Now()
		}
	}
}
