# What the shell checks in scripts/ (cli-smoke.sh, server-smoke.sh, faults.sh) share: the trialgate binary under test,
# pass/fail counting and the summary line, accounts with tokens, and a server on a loopback port.
#
# Source it after `set -euo pipefail`, before the script changes directory:   . "$(dirname "$0")/lib/checks.sh"
# The sourcing script then sets B (use_trialgate) and T, a scratch directory: expect_rc leaves the output of its
# command in $T/out, and start_server appends the server's stderr to $T/server.log.
# The script ends with `checks_done NAME`, which prints "NAME: P passed, F failed" and, as its last command under
# set -e, makes the exit status 0 only when nothing failed.

pass=0; fail=0

# use_trialgate [PATH]: B is PATH; with no PATH, the debug CLI, built first.
use_trialgate() { B=${1:-}; if [ -z "$B" ]; then swift build --product trialgate >/dev/null; B=.build/debug/trialgate; fi; }

# check CMD...: a pass when CMD succeeds; otherwise a failure, named.
check() { if "$@"; then pass=$((pass+1)); else echo "FAILED: $*"; fail=$((fail+1)); fi; }
# refute CMD...: a pass when CMD fails; otherwise a failure, named.
refute() { if "$@"; then echo "FAILED (should not hold): $*"; fail=$((fail+1)); else pass=$((pass+1)); fi; }
# expect_rc RC CMD...: a pass when CMD exits with RC. Its output goes to $T/out, for the checks that follow, and is
# printed on a failure.
expect_rc() { local want=$1; shift; set +e; "$@" >"$T/out" 2>&1; local rc=$?; set -e
  if [ "$rc" = "$want" ]; then pass=$((pass+1)); else echo "FAILED (rc $rc, want $want): $*"; cat "$T/out"; fail=$((fail+1)); fi; }
# checks_done NAME: the summary line; fails when any check failed.
checks_done() { echo "$1: $pass passed, $fail failed"; [ "$fail" = 0 ]; }

# token NAME ROLE [SITE]: adds the account and prints its token.
token() { "$B" users add "$1" --role "$2" ${3:+--site $3} --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }

# port: a port below the kernel's ephemeral range (32768-60999 here), where outgoing connections never take it.
port() { echo $(( 20000 + RANDOM % 12000 )); }
# start_server [serve options]: starts `$B serve` on 127.0.0.1 and returns once it listens; sets SERVER (its pid),
# PORT and ADDR. A port another process holds anyway means another try, up to 5; any other failure to start prints
# the server's log and returns 1.
start_server() {
  local attempt before lines
  for attempt in 1 2 3 4 5; do
    PORT=$(port); ADDR=127.0.0.1:$PORT
    before=$(grep -c "listening" "$T/server.log" 2>/dev/null || true)
    touch "$T/server.log"; lines=$(wc -l < "$T/server.log")
    "$B" serve --listen "$ADDR" "$@" 2>>"$T/server.log" & SERVER=$!
    for _ in $(seq 100); do
      [ "$(grep -c "listening" "$T/server.log" 2>/dev/null || true)" -gt "${before:-0}" ] && return 0
      kill -0 "$SERVER" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$SERVER" 2>/dev/null && break
    wait "$SERVER" 2>/dev/null || true
    tail -n "+$((lines + 1))" "$T/server.log" | grep -q "Address already in use" || break
    echo "port $PORT in use; trying another"
  done
  echo "server did not start"; cat "$T/server.log"; return 1
}
