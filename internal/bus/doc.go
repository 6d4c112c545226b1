// Package bus is Custodian's side of NATS: connection options, the embedded
// server, the event stream, the outbox publisher, the services that turn
// requests into calls on the supervisor, and the audit replay. It
// decides no policy.
//
// One file per job:
//
//	conn.go        ConnOptions: the contract's --nats* flags, Connect
//	embedded.go    StartEmbedded: nats-server with JetStream, in-process client
//	stream.go      EnsureStream: CUSTODIAN_EVENTS (file storage, dedup >= 2 min,
//	               delete and purge denied; 90 days, 10 GiB by default),
//	               and CUSTODIAN_STATS
//	stream_stats.go CUSTODIAN_STATS: table.stats, stats_keep per table
//	outbox.go      Outbox: durable local queue of events (goleveldb), Emit
//	publisher.go   Outbox.Run: in-order publication with Nats-Msg-Id, retries
//	metrics.go     Outbox.Collector: custodian_outbox_* Prometheus metrics
//	backend.go     Backend: what the services need from the supervisor
//	services.go    StartServices: custodian-kv, custodian-cmd, custodian-node
//	subscriptions.go  a subscription per owned table and plane (no responders
//	               for the others), all of a plane into one inbox
//	discovery.go   $SRV.PING/INFO/STATS ("nats service ls|info|stats"): one
//	               endpoint per service whatever the number of tables
//	dispatch.go    one goroutine per request, size limit, panics answer internal
//	kv.go          <prefix>.kv.<table>.{put,get,delete,batch,scan}
//	cmd.go         <prefix>.cmd.<table>.<verb>, with and without "wait"
//	node.go        <prefix>.node.<node>.{status,create,compact,backup,verify,drill}
//	node_status.go node status: a page of tables (limit, offset, state), counts
//	node_reply.go  the node reply bound (256 KiB); a node verb's reply in parts
//	errors.go      {"error":{"code","message"}} and the micro error headers
//	stats.go       per-plane requests, errors, time in "nats service stats"
//	audit.go       Audit: ordered replay with filters, one JSON event per line
//
// Wiring, in order (cmd/supervisor does this): StartEmbedded (or
// ConnOptions.Connect), EnsureStream, OpenOutbox and go Outbox.Run,
// supervisor.Open with the outbox as its events.Emitter, OpenTable for each
// table, go Supervisor.Run, StartServices. Shutdown in reverse: Services.Stop,
// stop the supervisor, Outbox.Flush, stop Run, Outbox.Close, close the
// connection, Embedded.Shutdown last.
//
// Delivery guarantees: an Emit that returns nil is on disk (fsync). Events
// are published in the order their Emit calls took a sequence number, each
// with Nats-Msg-Id = event id and Nats-Expected-Stream = CUSTODIAN_EVENTS
// (CUSTODIAN_STATS for a table.stats, on <prefix>.stats.<node>.<table>),
// and removed from the outbox only after the PubAck. A crash between the
// PubAck and the removal republishes the event with the same id, which the
// stream's duplicate window drops. Nothing is dropped while NATS is away:
// the publisher retries the head of the queue with backoff and never skips
// ahead.
package bus
