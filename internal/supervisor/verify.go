package supervisor

import (
	"context"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// verify runs a full strict scan. A failure is final at once; a corruption it
// finds starts an automatic restore (reported by tables, and here again in
// case the error came back without a report).
func (s *Supervisor) verify(ctx context.Context, ts *tableState, j *job) (events.Event, error) {
	start := time.Now()
	res, err := ts.t.Verify(ctx, s.progressOf(ts))
	if err != nil {
		s.noteCorruption(ts, "verify", err)
		err = opError(ts.name, "verify", err)
		data := map[string]any{"reason": err.Error()}
		e := outcome(s.jobEvent(events.VerifyFailed, j), events.ResultFailed, start, err, data)
		return e, joinErr(err, s.record(e))
	}
	e := outcome(s.jobEvent(events.VerifyCompleted, j), events.ResultOK, start, nil, map[string]any{
		"records": res.Records,
		"bytes":   res.Bytes,
		"digest":  res.Digest,
	})
	return e, s.record(e)
}
