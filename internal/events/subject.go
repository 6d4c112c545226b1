package events

import (
	"fmt"
	"regexp"
	"strings"
)

// StreamName is the JetStream stream that holds every event.
const StreamName = "CUSTODIAN_EVENTS"

// DefaultPrefix is the subject prefix unless --prefix says otherwise.
const DefaultPrefix = "custodian"

// NodeTable is the <table> token of node-level events.
const NodeTable = "_"

var (
	tableName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	nodeName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	prefixRe  = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// ValidTable reports whether name is a table name of the contract.
func ValidTable(name string) bool { return tableName.MatchString(name) }

// ValidNode reports whether id can be a node id: one subject token.
func ValidNode(id string) bool { return nodeName.MatchString(id) }

// ValidPrefix reports whether p is a usable subject prefix (one or more
// tokens, no wildcards).
func ValidPrefix(p string) bool { return prefixRe.MatchString(p) }

// NodeFromHost turns a host name into a node id: the first label, with any
// character that cannot stand in a subject token replaced by '-'.
func NodeFromHost(host string) string {
	if i := strings.IndexByte(host, '.'); i > 0 {
		host = host[:i]
	}
	var b strings.Builder
	for _, r := range host {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.TrimLeft(b.String(), "-_")
	if len(s) > 64 {
		s = s[:64]
	}
	if s == "" {
		return "node"
	}
	return s
}

// Subject is the subject an event is published on:
// <prefix>.events.<node>.<table>.<type>, <table> "_" for node-level events.
func Subject(prefix string, e Event) string {
	table := e.Table
	if table == "" {
		table = NodeTable
	}
	return fmt.Sprintf("%s.events.%s.%s.%s", prefix, e.Node, table, e.Type)
}

// StreamSubjects is the subject filter of the stream: <prefix>.events.>.
func StreamSubjects(prefix string) string { return prefix + ".events.>" }

// TypeFilter is a consumer filter subject for one event type on every node
// and table.
func TypeFilter(prefix, typ string) string { return prefix + ".events.*.*." + typ }

// KVSubject is <prefix>.kv.<table>.<op>.
func KVSubject(prefix, table, op string) string {
	return fmt.Sprintf("%s.kv.%s.%s", prefix, table, op)
}

// CmdSubject is <prefix>.cmd.<table>.<verb>.
func CmdSubject(prefix, table, verb string) string {
	return fmt.Sprintf("%s.cmd.%s.%s", prefix, table, verb)
}

// NodeSubject is <prefix>.node.<node>.<verb>.
func NodeSubject(prefix, node, verb string) string {
	return fmt.Sprintf("%s.node.%s.%s", prefix, node, verb)
}

// StatsStreamName is the JetStream stream that holds table.stats events,
// apart from the audit stream: the newest stats_keep of each table.
const StatsStreamName = "CUSTODIAN_STATS"

// StatsSubject is the subject a table.stats event of table on node is
// published on: <prefix>.stats.<node>.<table>.
func StatsSubject(prefix, node, table string) string {
	return fmt.Sprintf("%s.stats.%s.%s", prefix, node, table)
}

// StatsStreamSubjects is the subject filter of the stats stream:
// <prefix>.stats.>.
func StatsStreamSubjects(prefix string) string { return prefix + ".stats.>" }

// IsStats reports whether e goes to the stats stream rather than the
// audit stream: every table.stats event of a table.
func IsStats(e Event) bool {
	return e.Type == TableStats && e.Table != "" && e.Table != NodeTable
}

// PublishSubject is the subject e is published on: StatsSubject for a
// table.stats event of a table, Subject for every other event.
func PublishSubject(prefix string, e Event) string {
	if IsStats(e) {
		return StatsSubject(prefix, e.Node, e.Table)
	}
	return Subject(prefix, e)
}

// PublishStream is the stream e belongs in: StatsStreamName or
// StreamName (see PublishSubject).
func PublishStream(e Event) string {
	if IsStats(e) {
		return StatsStreamName
	}
	return StreamName
}
