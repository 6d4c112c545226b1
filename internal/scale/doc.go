// Package scale holds the benchmark and the test of a node that owns many
// tables (issue 12: ten thousand tables per node). Both run the real
// supervisor binary (built with go build, without -race) against a real
// nats-server started in the test, create the tables and write to them over
// the kv subjects as a client would, and read the supervisor's resident
// memory and open files from /proc.
//
// One file per job:
//
//	binary_test.go      build the supervisor, write its config file, start and stop it
//	client_test.go      the NATS client: create, put, get, wait until a table serves
//	compact_test.go     node-wide compaction, counted by its events
//	procfs_test.go      VmRSS, VmHWM and open descriptors of a process
//	raw_test.go         the raw goleveldb baseline, run in a child process
//	rawserve_test.go    the latency baselines (raw goleveldb behind a NATS
//	                    responder), timed alternately with the supervisor's gets
//	latency_test.go     percentiles
//	env_test.go         the benchmark's sizes from the environment
//	main_test.go        TestMain: the child process of the raw baseline
//	bench_test.go       BenchmarkManyTables (scripts/bench.sh)
//	bound_test.go       TestIdleTablesStayBounded (CI-sized)
//
// The package has no code used at run time.
package scale
