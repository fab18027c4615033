#!/usr/bin/env bash
# Coverage-guided fuzzing under libFuzzer (Swift's -sanitize=fuzzer, with AddressSanitizer).
#
#   scripts/fuzz.sh TARGET SECONDS     TARGET: json | request | session | policy | witness | all (each target gets SECONDS)
#
# Builds `trialgate-fuzz` with libFuzzer into .build/fuzz, starts from the committed seed corpus
# (Tests/TrialGateTests/Fixtures/corpus), keeps the grown corpus in .fuzz/TARGET/corpus and writes any
# crashing input to .fuzz/TARGET/. A crash makes the script fail; the input replays with
#   swift run trialgate-fuzz TARGET .fuzz/TARGET/crash-…
# and belongs, once fixed, in the seed corpus as a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/fuzz.sh json|request|session|policy|witness|all SECONDS"
target=${1:?$usage}
seconds=${2:?$usage}
case "$target" in json|request|session|policy|witness|all) ;; *) echo "fuzz.sh: unknown target $target (json, request, session, policy, witness, all)" >&2; exit 2 ;; esac
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number, got $seconds" >&2; exit 2; }

swift build --product trialgate-fuzz --build-path .build/fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DTRIALGATE_LIBFUZZER 2>&1 | grep -E "error:|Build of product" || true
fuzzer=.build/fuzz/debug/trialgate-fuzz
[[ -x "$fuzzer" ]] || { echo "fuzz.sh: the fuzzer did not build" >&2; exit 1; }

seeds() {
    case "$1" in
        json) echo Tests/TrialGateTests/Fixtures/corpus/json Tests/TrialGateTests/Fixtures/corpus/requests ;;
        request) echo Tests/TrialGateTests/Fixtures/corpus/requests ;;
        session) echo Tests/TrialGateTests/Fixtures/corpus/sessions ;;
        policy) echo Tests/TrialGateTests/Fixtures/corpus/policies ;;
        witness) echo Tests/TrialGateTests/Fixtures/corpus/witness ;;
    esac
}

status=0
for t in $([[ "$target" == all ]] && echo json request session policy witness || echo "$target"); do
    work=.fuzz/$t
    mkdir -p "$work/corpus"
    log=$work/fuzz.log
    # -max_len: request lines are capped at 64 KiB by the server; policies at 1 MiB by the loader.
    maxlen=$([[ "$t" == policy ]] && echo 65536 || echo 8192)
    # shellcheck disable=SC2046
    if TRIALGATE_FUZZ_TARGET=$t ASAN_OPTIONS=detect_leaks=0 "$fuzzer" "$work/corpus" $(seeds "$t") \
        -max_total_time="$seconds" -max_len="$maxlen" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$work/" >"$log" 2>&1; then
        result="no crash"
    else
        result="CRASH (see $log and $work/crash-*)"
        status=1
    fi
    runs=$(grep -E "^stat::number_of_executed_units" "$log" | awk '{print $2}')
    cov=$(grep -E "^#[0-9]+" "$log" | tail -1 | grep -oE "cov: [0-9]+ ft: [0-9]+ corp: [0-9]+" || true)
    echo "fuzz $t: ${seconds}s, ${runs:-?} executions, $cov, $(ls "$work/corpus" | wc -l) inputs in corpus: $result"
done
exit $status
