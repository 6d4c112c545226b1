package bus

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// Planes of the subjects.
const (
	planeKV   = "kv"
	planeCmd  = "cmd"
	planeNode = "node"
)

// request is one request as the handlers see it.
type request struct {
	verb     string // last subject token: op or verb
	data     []byte
	reply    string // "" for a plain publish
	tooLarge error  // set when the body was over the limit (data is nil)
}

// rawJSON is a reply body already encoded.
type rawJSON []byte

// work answers a request: a reply value, or an error with a contract code.
// A nil value with a nil error sends no reply.
type work func(ctx context.Context, table string, r request) (any, error)

// dispatch answers a message of plane's inbox: it runs the plane's work on
// a worker goroutine (an idle one, or a new one; at most Concurrency
// requests of a plane at once) and sends the reply. A body over the limit
// answers too_large (a command is also recorded as command.rejected). A
// panic answers internal; the process goes on. It blocks while every slot
// of the plane is taken, which holds back the plane's inbox.
func (s *Services) dispatch(plane string, m *nats.Msg) {
	start := time.Now()
	sem := s.sem[plane]
	stats := s.stats[plane]
	table := ""
	if plane != planeNode {
		table = s.tableOf(plane, m.Subject)
	}
	stats.requests.Add(1)
	subj := m.Subject
	r := request{verb: subj[strings.LastIndexByte(subj, '.')+1:], reply: m.Reply}
	if n := len(m.Data); n > s.opts.MaxBody {
		r.tooLarge = apierr.New(apierr.TooLarge, "body of %d bytes exceeds the limit of %d", n, s.opts.MaxBody)
	} else {
		// nats.go gives every message its own copy of the payload, so
		// the goroutine may keep it after this call returns.
		r.data = m.Data
	}
	if !s.begin() {
		s.send(r.reply, errorMsg(apierr.New(apierr.Internal, "supervisor is stopping")))
		stats.done(start)
		return
	}
	select {
	case sem <- struct{}{}:
	case <-s.ctx.Done():
		s.inflight.Done()
		s.send(r.reply, errorMsg(apierr.New(apierr.Internal, "supervisor is stopping")))
		stats.done(start)
		return
	}
	stats.inFlight.Add(1)
	j := job{plane: plane, table: table, r: r, w: s.work[plane], sem: sem, stats: stats, start: start}
	select {
	case s.idle <- j: // a worker waiting for work takes it
	default:
		go s.worker(j)
	}
}

// job is one request handed to a worker: a value, so that handing it over
// allocates nothing.
type job struct {
	plane, table string
	r            request
	w            work
	sem          chan struct{}
	stats        *planeCounters
	start        time.Time // when the message was taken from the inbox
}

// do answers one request and releases its slot.
func (s *Services) do(j job) {
	defer s.inflight.Done()
	defer func() { <-j.sem }()
	defer j.stats.inFlight.Add(-1)
	s.send(j.r.reply, s.run(j.plane, j.table, j.r, j.w, j.stats))
	j.stats.done(j.start)
}

// worker runs j, then the jobs handed to it while it waits, until it has
// waited workerIdle for one or the services stop. A worker that lives on
// keeps the stack it grew: a goroutine per request would grow a new one
// every time (runtime.newstack was ~10% of the CPU of a put).
func (s *Services) worker(j job) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		s.do(j)
		t.Reset(workerIdle)
		select {
		case j = <-s.idle:
		case <-t.C:
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// workerIdle is how long a request worker waits for work before it exits.
const workerIdle = 2 * time.Second

// begin counts a request in flight unless Stop has begun.
func (s *Services) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.inflight.Add(1)
	return true
}

// run calls w, turning a panic into an internal error.
func (s *Services) run(plane, table string, r request, w work, stats *planeCounters) (msg replyMsg) {
	defer func() {
		if p := recover(); p != nil {
			err := apierr.New(apierr.Internal, "internal error handling %s.%s on %q: %v", plane, clipName(r.verb), clipName(table), p)
			stats.fail(table, err)
			msg = errorMsg(err)
		}
	}()
	if r.tooLarge != nil {
		if plane != planeKV {
			s.reject(commandFor(table, r.verb), r.tooLarge)
		}
		stats.fail(table, r.tooLarge)
		return errorMsg(r.tooLarge)
	}
	v, err := w(s.ctx, table, r)
	if err != nil {
		stats.fail(table, err)
		return errorMsg(err)
	}
	if v == nil {
		return replyMsg{}
	}
	if raw, ok := v.(rawJSON); ok {
		return replyMsg{data: raw}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return errorMsg(apierr.Wrap(apierr.Internal, err, "encode reply"))
	}
	return replyMsg{data: b}
}

// send publishes a reply; nothing is sent for a plain publish or a zero
// reply. A failed reply cannot be reported to anyone: the requester times
// out.
func (s *Services) send(reply string, m replyMsg) {
	switch {
	case reply == "" || (m.data == nil && m.header == nil):
	case m.header == nil:
		_ = s.nc.Publish(reply, m.data)
	default:
		_ = s.nc.PublishMsg(&nats.Msg{Subject: reply, Header: m.header, Data: m.data})
	}
}
