package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/projections"
)

// sseBuffer is how many rows a slow SSE client may fall behind before it
// is dropped (it reconnects and catches up from the history).
const sseBuffer = 1024

// GET /api/stream: Server-Sent Events, one per new event, "id:" = stream
// sequence, "data:" = the history row (the event's JSON plus "seq").
// Optional filters: table, type, exclude, result, node, as GET /api/history
// takes them. A reconnecting EventSource sends Last-Event-ID and gets the
// rows it missed from the history first.
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
	var after uint64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		after, _ = strconv.ParseUint(v, 10, 64)
	} else if v := r.URL.Query().Get("after"); v != "" {
		after, _ = strconv.ParseUint(v, 10, 64)
	}

	sub := s.proj.Subscribe(sseBuffer)
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: 2000\n: custodian events, last seq %d\n\n", s.proj.LastSeq()); err != nil {
		return
	}
	// send writes a row the client has not had and the filter selects; it
	// fails only when the client is gone.
	sent := after
	send := func(row projections.Row) error {
		if row.Seq <= sent || !f.Match(row) {
			return nil
		}
		if err := writeEvent(w, row); err != nil {
			return err
		}
		sent = row.Seq
		return nil
	}
	if after > 0 {
		// Missed rows, oldest first; rows that also arrive on sub are
		// skipped below by sequence.
		missed := s.proj.History(projections.Filter{Limit: projections.DefaultHistoryLimit})
		for i := len(missed) - 1; i >= 0; i-- {
			if send(missed[i]) != nil {
				return
			}
		}
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
				return // fell behind: the client reconnects with Last-Event-ID
			}
			if row.Seq <= sent || !f.Match(row) {
				continue // nothing written: nothing to flush
			}
			if send(row) != nil {
				return
			}
			// Send what else is queued before flushing.
			for drained := false; !drained; {
				select {
				case row, ok := <-sub.C:
					if !ok {
						fl.Flush()
						return
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

func writeEvent(w http.ResponseWriter, row projections.Row) error {
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\ndata: %s\n\n", row.Seq, b)
	return err
}
