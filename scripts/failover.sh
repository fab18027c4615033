#!/usr/bin/env bash
# Two `trialgate serve` nodes on one PostgreSQL trial (writer lease of 2 s), and what happens to writes when the
# leading node dies or stalls. scripts/failover.py drives both scenarios, each on a fresh trial it drops afterwards:
#   load   eight clients write through the socket while the leader is killed with kill -9 and restarted, four times,
#          alternating; every acknowledged write must be in the log at its seq with its hash, verify must pass, and
#          psql must see seq 1..N once each, chained; the handover of each kill is printed.
#   fence  the leader is stopped (SIGSTOP) inside its write transaction, past its lease and PostgreSQL's 3 s limit on
#          a session idle in a transaction: the database ends its session, the other node takes over; continued, the
#          stalled node acknowledges nothing more and its writes are refused with not_leader naming the new leader;
#          once that one is killed, the stalled node leads again and appends after its writes.
# Needs the servers of scripts/postgres.sh (its TRIALGATE_PG_* variables in the environment), psql and python3.
# With a release build of trialgate-bench (.build/release/trialgate-bench, or $TRIALGATE_BENCH) its `load` adds
# load at the first leader through the first kill.
# Usage: scripts/failover.sh TRIALGATE_BINARY   (FAILOVER_SCENARIOS="load" runs one scenario; default "load fence")
set -euo pipefail
B=$(realpath "${1:?usage: scripts/failover.sh TRIALGATE_BINARY}")
BENCH=${TRIALGATE_BENCH:+$(realpath -m "$TRIALGATE_BENCH")}
cd "$(dirname "$0")/.."
: "${TRIALGATE_PG_PRIMARY:?start scripts/postgres.sh and export its TRIALGATE_PG_* lines first}"
: "${TRIALGATE_PG_WRITER:?start scripts/postgres.sh and export its TRIALGATE_PG_* lines first}"
BENCH=${BENCH:-$PWD/.build/release/trialgate-bench}
if [ ! -x "$BENCH" ]; then echo "note: no trialgate-bench at $BENCH; the clients of scripts/failover.py alone make the load"; BENCH=; fi
T=$(mktemp -d)
status=0
# The nodes' logs are kept when a check failed.
trap '[ $status = 0 ] && rm -rf "$T" || echo "logs kept in $T"' EXIT
started=$(date +%s%N)
stamp=$(date +%s%N | tail -c 9)
for scenario in ${FAILOVER_SCENARIOS:-load fence}; do
  # Each scenario is bounded: a hang in TrialGate ends it here, as a failure.
  timeout -k 10 150 python3 scripts/failover.py "$scenario" --trialgate "$B" \
      --owner "$TRIALGATE_PG_PRIMARY" --writer "$TRIALGATE_PG_WRITER" \
      --trial "fo${scenario:0:1}$stamp" --workdir "$T" --repo "$PWD" ${BENCH:+--bench "$BENCH"} || status=1
done
echo "failover: $([ $status = 0 ] && echo passed || echo FAILED) in $(( ($(date +%s%N) - started) / 1000000000 )) s"
exit $status
