package dashboard

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/projections"
)

const (
	// sseBuffer is how many rows a slow SSE client may fall behind before
	// it is dropped (it reconnects and catches up from the history). The
	// queue grows to it only in a burst (projections.Subscription).
	sseBuffer = 1024
	// sseSpareRows: a batch taken from the queue is handed back for the
	// next one when it holds at most this many rows; a larger one (after
	// a burst) is left to the garbage collector, so that an idle client
	// holds little.
	sseSpareRows = 64
)

// GET /api/stream: Server-Sent Events, one per new event, "data:" = the
// history row (the event's JSON plus "seq"), "id:" = <generation>-<seq>
// (see sseID). A table.stats (from the stream CUSTODIAN_STATS) comes with
// "stream":"stats", its "seq" one of that stream, and no id. Optional filters: table, type, exclude, result, node, as
// GET /api/history takes them. A reconnecting EventSource sends
// Last-Event-ID and gets the rows it missed from the history first; "after"
// takes a plain sequence of the current stream. When the stream was created
// anew (while the client listens, or before it resumes with an id of the
// old one) the client gets an event "reset" (data: {"generation": N}) and
// then the new stream's rows from its start.
//
// Streams are capped (Limits.MaxStreams, MaxStreamsPerAddr): a client over
// a cap gets 503 too_many_streams with a Retry-After (see refuseStream).
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
	release, ok := s.streams.acquire(r.RemoteAddr)
	if !ok {
		s.refuseStream(w)
		return
	}
	defer release()
	// The server's WriteTimeout would end the stream: each write gets a
	// deadline of its own instead, so that a client that stops reading is
	// still dropped.
	begin := func() error { return writeDeadlineIn(w, s.cfg.Limits.WriteTimeout) }
	if begin() != nil {
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
		if row.Stream == projections.StatsStream {
			// A table.stats of CUSTODIAN_STATS: sent without an id, so
			// that the client's Last-Event-ID stays a sequence of the
			// event stream (a client that resumes gets the events it
			// missed; the stats are the newest figures, in the cards).
			if !f.Match(row) {
				return nil
			}
			return writeStats(w, row)
		}
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
			if missed[i].Stream == projections.StatsStream {
				continue // their sequences are not the client's
			}
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
	var spare []projections.Row // the last batch, emptied, for the next Take
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if begin() != nil {
				return
			}
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			fl.Flush()
		case <-sub.Ready():
			rows, open := sub.Take(spare)
			if begin() != nil {
				return
			}
			for _, row := range rows {
				if send(row) != nil {
					return
				}
			}
			spare = nil
			if cap(rows) <= sseSpareRows {
				clear(rows)
				spare = rows[:0]
			}
			if !open {
				if !sub.Restarted() {
					return // fell behind: the client reconnects with Last-Event-ID
				}
				// A new stream: the client starts over with it.
				sub = s.proj.Subscribe(sseBuffer)
				sent = 0
				if reset() != nil || catchUp() != nil {
					return
				}
			}
			fl.Flush()
		}
	}
}

// refuseStream answers a client over a cap: 503 too_many_streams with a
// Retry-After. An EventSource does not retry an answer other than 200: the
// page polls instead and tries again later.
func (s *Server) refuseStream(w http.ResponseWriter) {
	s.streams.refused()
	l := s.cfg.Limits
	w.Header().Set("Retry-After", strconv.Itoa(int(streamRetryAfter.Seconds())))
	writeError(w, http.StatusServiceUnavailable, codeTooManyStreams, fmt.Sprintf(
		"too many live-update clients (at most %d, %d per address); poll GET /api/history, or retry in %s",
		l.MaxStreams, l.MaxStreamsPerAddr, streamRetryAfter))
}

// writeStats writes a row of the stats stream: no id (see handleStream).
func writeStats(w http.ResponseWriter, row projections.Row) error {
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "data: %s\n\n", b)
	return err
}

func writeEvent(w http.ResponseWriter, gen int64, row projections.Row) error {
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %s\ndata: %s\n\n", sseID{gen: gen, seq: row.Seq}, b)
	return err
}
