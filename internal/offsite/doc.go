// Package offsite keeps a node's tables recoverable when its disk is
// lost: every journal record of every table goes to the JetStream stream
// CUSTODIAN_JOURNAL (subjects <prefix>.journal.<node>.<table>), every
// backup's files to the Object Store bucket CUSTODIAN_BACKUPS (objects
// under <node>/<table>/), and a node started on an empty data directory
// fetches both back (Rebuild) so that the ordinary restore (backup plus
// journal, package tables) brings each table back.
//
// Journal messages: the data is the journal record as goleveldb wrote it
// (8-byte sequence, 4-byte count, batch body); headers name the table's
// generation and the record's first sequence number, and Nats-Msg-Id is
// <table>.<generation>.<sequence>, so that a record published twice (a
// retry after a lost acknowledgement) is stored once. A generation's
// record (changelog.Generation as JSON) is published before its first
// journal record, with the header Custodian-Generation-Record.
package offsite
