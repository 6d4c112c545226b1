package projections

// Subscription receives every row applied after it was taken, from the
// stream generation Gen. Rows wait in a queue that starts empty and grows
// as rows arrive, up to the bound given to Subscribe: an idle subscriber
// holds no rows, a burst costs only what it queues. When the subscriber
// falls behind by more than the bound, or the projection starts over on a
// new stream, the subscription ends (its queue is dropped); Lagged or
// Restarted says which: the subscriber catches up from the history (of
// the new stream).
type Subscription struct {
	Gen   int64
	p     *Projection
	ready chan struct{} // one token: rows were queued, or the subscription ended
	max   int           // rows queued at most

	// Under p.mu.
	queue     []Row
	lagged    bool
	restarted bool
	closed    bool
}

// Subscribe returns a subscription that queues at most bound rows.
func (p *Projection) Subscribe(bound int) *Subscription {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &Subscription{Gen: p.gen, p: p, ready: make(chan struct{}, 1), max: max(bound, 1)}
	p.subs[s] = struct{}{}
	return s
}

// Ready receives when rows were queued or the subscription ended since
// the last Take: then call Take.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the queued rows, oldest first, and whether the subscription
// is still open. The queue goes on in buf[:0], so a subscriber can hand
// back the slice of its previous Take (emptied with clear, so that it does
// not hold old rows) instead of growing a new one; nil is fine.
func (s *Subscription) Take(buf []Row) (rows []Row, open bool) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	rows, s.queue = s.queue, buf[:0]
	if s.closed {
		s.queue = nil
	}
	return rows, !s.closed
}

// Lagged reports whether the subscription was dropped for falling behind.
func (s *Subscription) Lagged() bool {
	s.p.mu.RLock()
	defer s.p.mu.RUnlock()
	return s.lagged
}

// Restarted reports whether the subscription ended because the projection
// started over on a new stream (see Attach).
func (s *Subscription) Restarted() bool {
	s.p.mu.RLock()
	defer s.p.mu.RUnlock()
	return s.restarted
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.closeLocked()
}

// pushLocked queues a row, or ends a subscription that is max rows behind.
func (s *Subscription) pushLocked(row Row) {
	if len(s.queue) >= s.max {
		s.lagged = true
		s.closeLocked()
		return
	}
	s.queue = append(s.queue, row)
	s.signal()
}

func (s *Subscription) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	s.queue = nil
	delete(s.p.subs, s)
	s.signal()
}

func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
