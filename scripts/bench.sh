#!/usr/bin/env bash
# The project's benchmark command: runs every Go benchmark, each of which
# measures its baseline (raw goleveldb, cp -r, raw JetStream, NATS KV, a bare
# consumer) in the same run and reports ratios with b.ReportMetric.
#
#   scripts/bench.sh          quick sizes (about 10 minutes on 2 cores)
#   scripts/bench.sh full     the issues' sizes: 256 MiB tables, 1,000,000
#                             events, 1,000 commands, 1,000,000 journaled
#                             writes, a dashboard start on 10,000,000 events
#                             (about an hour and a half)
#
# Output goes to stdout and to bench-<date>.txt; BENCHMARKS.md records the
# figures and the exact command behind each.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-quick}
case "$mode" in
  quick)
    export CUSTODIAN_BENCH_MB=32 CUSTODIAN_BENCH_MIB=32
    export CUSTODIAN_BENCH_EVENTS=200000 CUSTODIAN_BENCH_COMMANDS=200
    export CUSTODIAN_BENCH_WRITES=100000 CUSTODIAN_BENCH_INCR_MB=64
    start_events=200000
    count=1 bustime=5000x fuzztime=20s
    scale_tables=200 ;;
  full)
    export CUSTODIAN_BENCH_MB=256 CUSTODIAN_BENCH_MIB=256
    export CUSTODIAN_BENCH_EVENTS=1000000 CUSTODIAN_BENCH_COMMANDS=1000
    export CUSTODIAN_BENCH_WRITES=1000000 CUSTODIAN_BENCH_INCR_MB=1024
    start_events=10000000
    count=3 bustime=20000x fuzztime=5m
    scale_tables=10000 ;;
  *) echo "usage: scripts/bench.sh [quick|full]" >&2; exit 2 ;;
esac

out="bench-$(date -u +%Y%m%dT%H%M%SZ).txt"
run() {
  echo "== go test -run '^\$' $*" | tee -a "$out"
  go test -run '^$' -timeout 90m "$@" 2>&1 | tee -a "$out"
}

run -bench . -benchtime 1x -count "$count" ./internal/tables/
run -bench DetectionToServing -benchtime 3x -count "$count" ./internal/supervisor/
run -bench . -benchtime "$bustime" -count "$count" ./internal/bus/
run -bench BenchmarkReplay -benchtime 1x -count "$count" ./internal/projections/
run -bench 'BenchmarkCommandToLiveRow|BenchmarkBrowserCommandToRow' -benchtime 1x -count "$count" ./internal/dashboard/
# The dashboard binary's cold start over 10,000 tables (full: 10,000,000 events).
(export CUSTODIAN_BENCH_EVENTS=$start_events; echo "== CUSTODIAN_BENCH_EVENTS=$start_events" | tee -a "$out"
 run -bench BenchmarkColdStart -benchtime 1x ./cmd/dashboard/)
run -bench . -benchtime 2000x -count "$count" ./internal/notifier/
run -bench 'ShippingOverhead|Rebuild' -benchtime 1x -count "$count" ./internal/offsite/
# The journal reader, fuzzed longer than CI does.
for target in FuzzReadFile; do
  echo "== go test -run '^\$' -fuzz $target -fuzztime $fuzztime ./internal/changelog/" | tee -a "$out"
  go test -run '^$' -fuzz "$target" -fuzztime "$fuzztime" ./internal/changelog/ 2>&1 | tee -a "$out"
done
# A node with many tables (issue 12), last: the real supervisor binary,
# one run (10,000 tables in full); not exported, BenchmarkIdleTables of
# internal/tables reads the same variable.
CUSTODIAN_BENCH_TABLES=$scale_tables run -bench ManyTables -benchtime 1x -count 1 ./internal/scale/
echo "figures in $out"
