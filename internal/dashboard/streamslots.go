package dashboard

import (
	"net"
	"sync"
)

// streamSlots counts the open event streams, in all and per remote
// address, against their caps.
type streamSlots struct {
	max, perAddr int

	mu      sync.Mutex
	open    int
	byAddr  map[string]int
	refusal uint64 // clients refused
}

func newStreamSlots(limit, perAddr int) *streamSlots {
	return &streamSlots{max: limit, perAddr: perAddr, byAddr: map[string]int{}}
}

// acquire takes a slot for a client at remoteAddr (host:port, as
// http.Request.RemoteAddr); ok is false when a cap is reached. release
// gives the slot back.
func (s *streamSlots) acquire(remoteAddr string) (release func(), ok bool) {
	addr := remoteHost(remoteAddr)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open >= s.max || s.byAddr[addr] >= s.perAddr {
		return nil, false
	}
	s.open++
	s.byAddr[addr]++
	var once sync.Once
	return func() { once.Do(func() { s.release(addr) }) }, true
}

func (s *streamSlots) release(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open--
	if s.byAddr[addr]--; s.byAddr[addr] <= 0 {
		delete(s.byAddr, addr)
	}
}

// refused counts a client refused over a cap.
func (s *streamSlots) refused() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusal++
}

// stats are the open streams and the clients refused so far.
func (s *streamSlots) stats() (open int, refused uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.refusal
}

// remoteHost is the address part of host:port (the whole string when it
// has no port).
func remoteHost(remoteAddr string) string {
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return h
	}
	return remoteAddr
}
