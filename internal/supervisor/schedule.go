package supervisor

import (
	"math/rand/v2"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

const timeFormat = time.RFC3339Nano

// stats is the pseudo-verb of the stats schedule.
const verbStats = "stats"

// firstDue draws the first interval of a schedule: from [d/2, 3d/2] (or
// [d(1-j), d(1+j)] when j is larger), so that the tables of a node opened
// together spread their work over a whole interval instead of starting it
// within the jitter of each other; exactly d when j <= 0.
func firstDue(d time.Duration, j float64) time.Duration {
	if j <= 0 {
		return d
	}
	return jittered(d, max(j, 0.5))
}

// jittered draws an interval from [d(1-j), d(1+j)].
func jittered(d time.Duration, j float64) time.Duration {
	if j <= 0 {
		return d
	}
	f := 1 + j*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}

// schedule fires ts's schedules until the supervisor stops: compaction,
// backup and verify go through the queue with trigger schedule (no
// command.accepted: they are not operator commands, but they carry a command
// id); stats emit table.stats directly. Work due while the table is
// unavailable is not queued; work that finds the queue full is dropped and
// counted (TableStatus.SkippedTicks). Each fire draws the next interval anew.
func (s *Supervisor) schedule(ts *tableState) {
	defer s.workers.Done()
	every := map[string]time.Duration{
		events.VerbCompact: ts.pol.CompactEvery,
		events.VerbBackup:  ts.pol.BackupEvery,
		events.VerbVerify:  ts.pol.VerifyEvery,
		events.VerbDrill:   ts.pol.DrillEvery,
		verbStats:          ts.pol.StatsEvery,
	}
	due := map[string]time.Time{}
	now := time.Now()
	for verb, d := range every {
		if d > 0 {
			due[verb] = now.Add(firstDue(d, ts.pol.Jitter))
		}
	}
	s.publishNext(ts, due)
	if len(due) == 0 {
		<-s.stopping
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		verb, at := earliest(due)
		timer.Reset(time.Until(at))
		select {
		case <-s.stopping:
			return
		case <-timer.C:
		}
		due[verb] = time.Now().Add(jittered(every[verb], ts.pol.Jitter))
		s.publishNext(ts, due)
		if verb == verbStats {
			s.emitStats(ts, due)
			continue
		}
		s.fire(ts, verb)
	}
}

// earliest is the schedule due first.
func earliest(due map[string]time.Time) (string, time.Time) {
	var (
		verb string
		at   time.Time
	)
	for v, t := range due {
		if verb == "" || t.Before(at) || (t.Equal(at) && v < verb) {
			verb, at = v, t
		}
	}
	return verb, at
}

// publishNext records the next fire times for Status.
func (s *Supervisor) publishNext(ts *tableState, due map[string]time.Time) {
	s.mu.Lock()
	for v, t := range due {
		if v != verbStats {
			ts.next[v] = t
		}
	}
	s.mu.Unlock()
}

// fire queues one scheduled piece of work. A sleeping table that has not
// changed since a compaction, backup or verify last succeeded on it is left
// asleep for that verb (counted in TableStatus.UnchangedSkips): the work
// would find what it found then. Drills still run: a drill restores the
// newest backup and the journal and compares them with the table, so the
// backups of a table that sleeps unchanged, and the table's own data, are
// still read once a drill interval.
func (s *Supervisor) fire(ts *tableState, verb string) {
	if ok, _ := ts.t.Available(); !ok {
		return
	}
	if verb != events.VerbDrill && ts.t.Unchanged(verb) {
		s.mu.Lock()
		ts.unchangedSkips++
		s.mu.Unlock()
		return
	}
	cmd := Command{Table: ts.name, Verb: verb, Trigger: events.TriggerSchedule}
	if _, err := s.submit(s.workCtx, cmd, false); err != nil && apierr.CodeOf(err) == apierr.Busy {
		s.mu.Lock()
		ts.skippedTicks++
		s.mu.Unlock()
	}
}

// emitStats emits table.stats (bytes, records, dead_records, dead_ratio,
// dead_bytes, queue, and next_<op> times), when due (emitStatsIfDue: only
// when its figures changed, or stats_every x 10 after the last one), for a
// table that serves (result
// failed, with the error and no figures, when they cannot be read); while an
// operation runs, also running (its verb), running_command_id and its latest
// progress figures (progress_done, progress_total, progress_unit) when
// tables has reported any.
func (s *Supervisor) emitStats(ts *tableState, due map[string]time.Time) {
	if ok, _ := ts.t.Available(); !ok {
		return
	}
	st, err := ts.t.Stats(s.workCtx)
	if err != nil {
		s.noteCorruption(ts, "stats", err)
		if tables.IsCorruption(err) || s.workCtx.Err() != nil {
			return // the incident (or the shutdown) says it
		}
		// Not dropped: a table.stats that says the figures could not be
		// read (no figure, so that no view takes zero for a size).
		e := events.New(events.TableStats, s.cfg.Node, ts.name)
		e.Trigger = events.TriggerSchedule
		e.Result = events.ResultFailed
		e.Error = err.Error()
		e.Data = map[string]any{"reason": "stats: " + err.Error()}
		s.emitStatsIfDue(ts, e)
		return
	}
	s.mu.Lock()
	queue := len(ts.queue)
	var running, runningID string
	if ts.running != nil {
		running, runningID = ts.running.cmd.Verb, ts.running.cmd.ID
	}
	p := ts.progress.Load()
	s.mu.Unlock()
	e := events.New(events.TableStats, s.cfg.Node, ts.name)
	e.Trigger = events.TriggerSchedule
	e.Result = events.ResultOK
	e.Data = map[string]any{"queue": queue}
	putStats(e.Data, st)
	putWrites(e.Data, ts.t)
	s.putOffsite(e.Data, ts.name)
	if running != "" {
		// A long operation reports its progress here: the contract's
		// event types are fixed, and table.stats is the periodic one.
		e.Data["running"] = running
		e.Data["running_command_id"] = runningID
		if p != nil {
			e.Data["progress_done"] = p.Done
			e.Data["progress_total"] = p.Total
			e.Data["progress_unit"] = p.Unit
		}
	}
	for verb, name := range map[string]string{events.VerbCompact: "next_compaction", events.VerbBackup: "next_backup", events.VerbVerify: "next_verify", events.VerbDrill: "next_drill"} {
		if t, ok := due[verb]; ok {
			e.Data[name] = t.UTC().Format(timeFormat)
		}
	}
	s.emitStatsIfDue(ts, e)
}

// emitStatsIfDue emits a periodic table.stats when its figures changed
// since the last one the table sent, or stats_every x 10 passed since then
// (see statsMemo for what counts as a figure).
func (s *Supervisor) emitStatsIfDue(ts *tableState, e events.Event) {
	figures := statsFigures(e)
	now := time.Now()
	if !ts.stats.due(figures, now, ts.pol.StatsEvery) {
		return
	}
	if s.emit(s.workCtx, e) == nil { // a failure is counted and kept by emit (NodeStatus)
		ts.stats.record(figures, now)
	}
}

// putStats sets a table's size figures in the data of a table.stats event.
func putStats(data map[string]any, st tables.Stats) {
	data["bytes"] = st.Bytes
	data["records"] = st.Records
	data["dead_records"] = st.DeadRecords
	data["dead_ratio"] = st.DeadRatio
	data["dead_bytes"] = st.DeadBytes
}
