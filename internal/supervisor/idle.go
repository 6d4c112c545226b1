package supervisor

import (
	"time"
)

// sleepIdle puts the tables idle for Config.IdleClose to sleep (their
// database closed until the next request; see package tables, sleep.go)
// and gives fast writers the big write buffer, every IdleClose/4 (at
// least every second, at most every 30 s), until the supervisor stops. A
// table whose close fails sleeps all the same (its next open checks it);
// the failure is kept for NodeStatus (SleepErrors, LastSleepError).
func (s *Supervisor) sleepIdle() {
	defer s.workers.Done()
	every := min(max(s.cfg.IdleClose/4, time.Second), 30*time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stopping:
			return
		case <-tick.C:
		}
		if _, err := s.store.SleepIdle(s.workCtx, s.cfg.IdleClose); err != nil && s.workCtx.Err() == nil {
			s.mu.Lock()
			s.sleepErrors++
			s.lastSleepErr = err.Error()
			s.mu.Unlock()
		}
	}
}
