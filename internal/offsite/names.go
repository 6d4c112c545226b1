package offsite

import (
	"fmt"

	"github.com/custodian-dev/custodian/internal/events"
)

// Names of the off-site stream and bucket (fixed by the contract).
const (
	JournalStream = "CUSTODIAN_JOURNAL"
	BackupBucket  = "CUSTODIAN_BACKUPS"
)

// Message headers of the journal stream.
const (
	HeaderGeneration       = "Custodian-Generation"
	HeaderSequence         = "Custodian-Sequence"
	HeaderGenerationRecord = "Custodian-Generation-Record"
)

// journalSubject is the subject of table's journal records on node.
func journalSubject(prefix, node, table string) string {
	if prefix == "" {
		prefix = events.DefaultPrefix
	}
	return fmt.Sprintf("%s.journal.%s.%s", prefix, node, table)
}

// journalSubjects is the stream's subjects for every node.
func journalSubjects(prefix string) []string {
	if prefix == "" {
		prefix = events.DefaultPrefix
	}
	return []string{prefix + ".journal.>"}
}

// objectPrefix is where table's objects of node are in the bucket.
func objectPrefix(node, table string) string { return node + "/" + table + "/" }
