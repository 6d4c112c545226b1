package bus

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// AuditFilter selects the events Audit prints. A zero field matches all.
type AuditFilter struct {
	Since      time.Time // events at or after this time
	Table      string    // one table ("_" for node-level events)
	TypePrefix string    // e.g. "compaction" or "compaction.failed"
	Node       string    // one node
	Prefix     string    // subject prefix (default "custodian")
}

// Validate refuses filters that could never match or would build a bad
// subject.
func (f AuditFilter) Validate() error {
	if f.Prefix != "" && !events.ValidPrefix(f.Prefix) {
		return fmt.Errorf("audit: invalid prefix %q", f.Prefix)
	}
	if f.Table != "" && f.Table != events.NodeTable && !events.ValidTable(f.Table) {
		return fmt.Errorf("audit: invalid table %q", f.Table)
	}
	if f.Node != "" && !events.ValidNode(f.Node) {
		return fmt.Errorf("audit: invalid node %q", f.Node)
	}
	if strings.ContainsAny(f.TypePrefix, " \t\r\n*>") {
		return fmt.Errorf("audit: invalid type prefix %q", f.TypePrefix)
	}
	return nil
}

// filterSubject is the narrowest consumer filter for f:
// <prefix>.events.<node|*>.<table|*>.<type tokens|>>. A type prefix that
// ends inside a token ("comp") cannot be expressed as a subject; the rest
// of the filtering is then done on the event itself.
func (f AuditFilter) filterSubject() string {
	prefix := f.Prefix
	if prefix == "" {
		prefix = events.DefaultPrefix
	}
	node, table := "*", "*"
	if f.Node != "" {
		node = f.Node
	}
	if f.Table != "" {
		table = f.Table
	}
	typ := ">"
	tp := strings.TrimSuffix(f.TypePrefix, ".")
	switch {
	case tp == "":
	case slices.Contains(events.Types(), tp):
		typ = tp
	case strings.HasSuffix(f.TypePrefix, ".") || isTypeFamily(tp):
		typ = tp + ".>"
	}
	if f.stats() {
		return events.StatsSubject(prefix, node, table)
	}
	return fmt.Sprintf("%s.events.%s.%s.%s", prefix, node, table, typ)
}

// stats reports whether f asks for table.stats, which are in the stream
// CUSTODIAN_STATS (the newest stats_keep of each table) rather than in
// the audit stream.
func (f AuditFilter) stats() bool {
	return strings.TrimSuffix(f.TypePrefix, ".") == events.TableStats
}

// streamName is the stream f reads.
func (f AuditFilter) streamName() string {
	if f.stats() {
		return events.StatsStreamName
	}
	return events.StreamName
}

// isTypeFamily reports whether p is the first part of some event type
// ("compaction", "backup", ...).
func isTypeFamily(p string) bool {
	for _, t := range events.Types() {
		if strings.HasPrefix(t, p+".") {
			return true
		}
	}
	return false
}

func (f AuditFilter) match(e events.Event) bool {
	table := e.Table
	if table == "" {
		table = events.NodeTable
	}
	switch {
	case f.Node != "" && e.Node != f.Node:
		return false
	case f.Table != "" && table != f.Table:
		return false
	case f.TypePrefix != "" && !strings.HasPrefix(e.Type, f.TypePrefix):
		return false
	case !f.Since.IsZero() && e.Time.Before(f.Since):
		return false
	}
	return true
}

// Audit replays CUSTODIAN_EVENTS (CUSTODIAN_STATS when f asks for the type
// table.stats) with an ordered consumer from the start
// (or from f.Since) up to the last message present when it began, writes
// each matching event as one line of JSON to w in stream order, and
// returns how many it wrote.
func Audit(ctx context.Context, js jetstream.JetStream, f AuditFilter, w io.Writer) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	n, err := replay(ctx, js, f, bw)
	if ferr := bw.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("audit: write: %w", ferr)
	}
	return n, err
}

// replay is Audit without the buffering.
func replay(ctx context.Context, js jetstream.JetStream, f AuditFilter, w io.Writer) (int, error) {
	name := f.streamName()
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("audit: stream %s: %w", name, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("audit: stream %s: info: %w", name, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 || last == 0 {
		return 0, nil
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{f.filterSubject()},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if !f.Since.IsZero() {
		since := f.Since
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("audit: ordered consumer: %w", err)
	}
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		return 0, nil
	}
	written := 0
	for {
		if err := ctx.Err(); err != nil {
			return written, fmt.Errorf("audit: %w", err)
		}
		batch, err := cons.Fetch(512, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return written, fmt.Errorf("audit: fetch: %w", err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			md, err := msg.Metadata()
			if err != nil {
				return written, fmt.Errorf("audit: message metadata: %w", err)
			}
			if md.Sequence.Stream > last {
				return written, nil
			}
			if ok, err := writeAuditLine(w, f, msg.Data()); err != nil {
				return written, err
			} else if ok {
				written++
			}
			if md.Sequence.Stream == last || md.NumPending == 0 {
				return written, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return written, fmt.Errorf("audit: fetch: %w", err)
		}
		if got == 0 {
			// Nothing came within the wait: everything that matched has
			// been delivered (the rest aged out or never matched).
			ci, err := cons.Info(ctx)
			if err != nil {
				return written, fmt.Errorf("audit: consumer info: %w", err)
			}
			if ci.NumPending == 0 {
				return written, nil
			}
		}
	}
}

// writeAuditLine writes one event if it matches f. An entry that is not a
// valid event is written as it is when no field filter applies (the audit
// shows the stream as it is) and skipped otherwise.
func writeAuditLine(w io.Writer, f AuditFilter, data []byte) (bool, error) {
	e, err := events.Unmarshal(data)
	if err != nil {
		if f.Since.IsZero() && f.Table == "" && f.TypePrefix == "" && f.Node == "" {
			return writeLine(w, data)
		}
		return false, nil
	} else if !f.match(e) {
		return false, nil
	}
	return writeLine(w, data)
}

func writeLine(w io.Writer, data []byte) (bool, error) {
	line := bytes.TrimSpace(data)
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	if _, err := w.Write(buf); err != nil {
		return false, fmt.Errorf("audit: write: %w", err)
	}
	return true, nil
}
