package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// compact runs one compaction attempt (runJob refused it if the table does
// not serve). Unforced, it is skipped when the dead ratio is below the
// policy's threshold.
// retry reports a failed first attempt that must be tried again.
func (s *Supervisor) compact(ctx context.Context, ts *tableState, j *job) (e events.Event, retry bool, err error) {
	start := time.Now()
	pol := ts.pol
	mode := compactMode(j.cmd, pol)
	base := map[string]any{"mode": string(mode), "force": j.cmd.Body.Force, "threshold": pol.Threshold}

	st, serr := ts.t.Stats(ctx)
	if serr != nil {
		s.noteCorruption(ts, "stats", serr)
		err = fmt.Errorf("table %s: compact: stats: %w", ts.name, serr)
		return s.compactFailed(ctx, ts, j, start, base, err)
	}
	base["dead_ratio"] = st.DeadRatio
	base["bytes_before"] = st.Bytes
	base["records"] = st.Records
	base["dead_records"] = st.DeadRecords

	if !j.cmd.Body.Force && st.DeadRatio < pol.Threshold {
		data := with(base, map[string]any{
			"reason": fmt.Sprintf("dead ratio %.3f below threshold %.3f", st.DeadRatio, pol.Threshold),
		})
		e = outcome(s.jobEvent(events.CompactionSkipped, j), events.ResultSkipped, start, nil, data)
		return e, false, s.record(e)
	}
	// Not started (forced or not) without room for its copy: skipped, with
	// the reason, rather than failed twice.
	reason, figures, rerr := s.noRoom(ts.t, st.Bytes)
	if rerr != nil {
		err = fmt.Errorf("table %s: compact: free space: %w", ts.name, rerr)
		return s.compactFailed(ctx, ts, j, start, base, err)
	}
	if reason != "" {
		data := with(with(base, figures), map[string]any{"reason": reason})
		e = outcome(s.jobEvent(events.CompactionSkipped, j), events.ResultSkipped, start, nil, data)
		return e, false, s.record(e)
	}

	started := s.jobEvent(events.CompactionStarted, j)
	started.Result = events.ResultOK
	started.Data = with(base, nil)
	if eerr := s.record(started); eerr != nil {
		// The work does not start unrecorded.
		err = fmt.Errorf("table %s: compact: %w", ts.name, eerr)
		return s.compactFailed(ctx, ts, j, start, base, err)
	}

	res, cerr := ts.t.Compact(ctx, mode, s.progressOf(ts))
	if cerr != nil {
		s.noteCorruption(ts, "compact", cerr)
		err = opError(ts.name, "compact", cerr)
		return s.compactFailed(ctx, ts, j, start, base, err)
	}
	data := with(base, map[string]any{
		"mode":         string(res.Mode),
		"bytes_before": res.BytesBefore,
		"bytes_after":  res.BytesAfter,
		"records":      res.Records,
		"dead_ratio":   res.DeadRatio,
		"pause_ms":     res.PauseMS,
	})
	e = outcome(s.jobEvent(events.CompactionCompleted, j), events.ResultOK, start, nil, data)
	return e, false, s.record(e)
}

// compactMode is the compaction mode of cmd: its body's, else the policy's.
func compactMode(cmd Command, pol Policy) tables.Mode {
	if cmd.Body.Mode != "" {
		return tables.Mode(cmd.Body.Mode)
	}
	return pol.Mode
}

// compactFailed emits compaction.failed for this attempt; a first attempt is
// retried unless the supervisor is stopping.
func (s *Supervisor) compactFailed(ctx context.Context, ts *tableState, j *job, start time.Time, base map[string]any, err error) (events.Event, bool, error) {
	final := j.attempt >= 2
	data := with(base, map[string]any{"final": final, "reason": err.Error()})
	select {
	case <-s.stopping:
		// No retry at shutdown: the table waits for its next schedule.
		data["retry"] = "abandoned: shutdown"
		final = true
	default:
		if !final {
			data["retry_in_ms"] = ts.pol.RetryDelay.Milliseconds()
		}
	}
	e := outcome(s.jobEvent(events.CompactionFailed, j), events.ResultFailed, start, err, data)
	return e, !final, joinErr(err, s.record(e))
}

// with returns a copy of base with extra set over it.
func with(base, extra map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
