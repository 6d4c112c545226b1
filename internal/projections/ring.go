package projections

// ring is a bounded FIFO: when full, a push drops the oldest element. Its
// layout depends only on the sequence of pushes, so two rings fed the same
// elements are deep-equal.
type ring[T any] struct {
	buf   []T
	start int // index of the oldest element
	n     int
	limit int
}

func newRing[T any](limit int) *ring[T] {
	if limit < 1 {
		limit = 1
	}
	return &ring[T]{limit: limit}
}

func (r *ring[T]) push(v T) {
	if r.n < r.limit {
		if len(r.buf) < r.limit {
			r.buf = append(r.buf, v)
		} else {
			r.buf[(r.start+r.n)%r.limit] = v
		}
		r.n++
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % r.limit
}

// len is the number of elements held.
func (r *ring[T]) len() int { return r.n }

// at returns the i-th element, 0 being the oldest.
func (r *ring[T]) at(i int) T { return r.buf[(r.start+i)%len(r.buf)] }

// slice copies the elements, oldest first.
func (r *ring[T]) slice() []T {
	out := make([]T, r.n)
	for i := range out {
		out[i] = r.at(i)
	}
	return out
}
