package dashboard

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/projections"
)

// sseBuffer is how many rows a slow SSE client may fall behind before it
// is dropped (it reconnects and catches up from the history).
const sseBuffer = 1024

// GET /api/stream: Server-Sent Events, one per new event, "data:" = the
// history row (the event's JSON plus "seq"), "id:" = <generation>-<seq>
// (see sseID). Optional filters: table, type, exclude, result, node, as
// GET /api/history takes them. A reconnecting EventSource sends
// Last-Event-ID and gets the rows it missed from the history first; "after"
// takes a plain sequence of the current stream. When the stream was created
// anew (while the client listens, or before it resumes with an id of the
// old one) the client gets an event "reset" (data: {"generation": N}) and
// then the new stream's rows from its start.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeAPIError(w, apierr.New(apierr.Internal, "streaming unsupported"))
		return
	}
	f, err := parseFilter(r, time.Now())
	if err != nil {
		writeAPIError(w, err)
		return
	}
	f.Limit, f.Before = 0, 0
	from, resume, err := resumePoint(r)
	if err != nil {
		writeAPIError(w, err)
		return
	}

	sub := s.proj.Subscribe(sseBuffer)
	defer func() { sub.Close() }() // sub is replaced when the stream starts over

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: 2000\n: custodian events, last seq %d\n\n", s.proj.LastSeq()); err != nil {
		return
	}
	// sent is the last sequence of sub.Gen the client has. A client that
	// resumes from another stream is told to start over, as a listening
	// one is (its page holds rows whose sequences mean nothing now).
	var sent uint64
	sameStream := from.gen == 0 || from.gen == sub.Gen
	if resume && sameStream {
		sent = from.seq
	}
	reset := func() error {
		_, err := fmt.Fprintf(w, "event: reset\ndata: {\"generation\":%d}\n\n", sub.Gen)
		return err
	}
	if resume && !sameStream && reset() != nil {
		return
	}
	// send writes a row the client has not had and the filter selects; it
	// fails only when the client is gone.
	send := func(row projections.Row) error {
		if row.Seq <= sent || !f.Match(row) {
			return nil
		}
		if err := writeEvent(w, sub.Gen, row); err != nil {
			return err
		}
		sent = row.Seq
		return nil
	}
	// catchUp sends the rows the client missed, oldest first; rows that
	// also arrive on sub are skipped by sequence.
	catchUp := func() error {
		q := f
		q.After, q.Limit = sent, math.MaxInt // every row held that the client has not had
		missed := s.proj.History(q)
		for i := len(missed) - 1; i >= 0; i-- {
			if err := send(missed[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if resume && catchUp() != nil {
		return
	}
	fl.Flush()

	tick := time.NewTicker(s.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			fl.Flush()
		case row, ok := <-sub.C:
			if !ok {
				if !sub.Restarted() {
					return // fell behind: the client reconnects with Last-Event-ID
				}
				// A new stream: the client starts over with it.
				sub = s.proj.Subscribe(sseBuffer)
				sent = 0
				if reset() != nil || catchUp() != nil {
					return
				}
				fl.Flush()
				continue
			}
			if row.Seq <= sent || !f.Match(row) {
				continue // nothing written: nothing to flush
			}
			if send(row) != nil {
				return
			}
			// Send what else is queued before flushing; a closed channel is
			// seen again by the outer select.
			for drained := false; !drained; {
				select {
				case row, ok := <-sub.C:
					if !ok {
						drained = true
						continue
					}
					if send(row) != nil {
						return
					}
				default:
					drained = true
				}
			}
			fl.Flush()
		}
	}
}

func writeEvent(w http.ResponseWriter, gen int64, row projections.Row) error {
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %s\ndata: %s\n\n", sseID{gen: gen, seq: row.Seq}, b)
	return err
}
