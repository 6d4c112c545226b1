// Package projections turns the CUSTODIAN_EVENTS stream into the views an
// operator looks at: a health card per node and table, a bounded history
// log, size-over-time series and Prometheus metrics. The reducers are pure
// (State.Apply does no I/O) and idempotent by stream sequence: an event whose
// sequence is not newer than the last one applied changes nothing, so a
// replay from sequence 1 and a live feed give the same state. Consumer feeds
// a Projection from the stream.
package projections
