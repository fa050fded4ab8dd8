#!/bin/sh
# Signals: SIGTERM mid-flight finishes or releases the work and exits 0;
# nothing is lost or written twice afterwards.  --check validates the
# configuration; usage errors exit 2.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --latency 1500 || exit 1
write_conf ""
"$BIN/callsync" --config "$T/callsync.conf" init >/dev/null 2>&1
gen_calls 12 12 s >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
"$BIN/callsyncd" --config "$T/callsync.conf" -d -vv 2>"$T/worker.log" &
W=$!
PIDS="$PIDS $W"
wait_for "requests in flight" 20 sh -c "grep -q 'POST /contacts/search\|GET /me' '$T/worker.log' && [ \$(sqlite3 '$DB' \"SELECT count(*) FROM outbox WHERE state='inflight'\") -gt 0 ]"
kill -TERM $W
wait $W
is "SIGTERM: exit status 0" "$?" 0
check "SIGTERM logged as a stop" grep -q 'stopping' "$T/worker.log"
is "nothing left in flight" "$(sql "SELECT count(*) FROM outbox WHERE state='inflight'")" 0
is "no record dead-lettered by the stop" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
is "no attempt charged for released records" "$(sql "SELECT count(*) FROM outbox WHERE state='pending' AND attempts > 0")" 0
sim_ctl '{"latency_ms":0}'
drain_until_done 10
check "drained after the restart" [ $? -eq 0 ]
snap
exactly_once_checks
"$BIN/callsyncd" --config "$T/callsync.conf" --check >"$T/out" 2>&1
is "--check exits 0 on a good config" "$?" 0
check "--check prints configuration OK" grep -q 'configuration OK' "$T/out"
printf '[worker]\nbogus = 1\n' >"$T/bad.conf"
"$BIN/callsyncd" --config "$T/bad.conf" --check >"$T/out" 2>&1
is "--check exits 1 on a bad config" "$?" 1
check "error names file, line and key" grep -q "bad.conf:2: .*bogus" "$T/out"
"$BIN/callsyncd" --frobnicate >/dev/null 2>&1
is "unknown option exits 2" "$?" 2
"$BIN/callsyncd" --help >"$T/out" 2>&1
is "--help exits 0" "$?" 0
check "--help shows usage" grep -q '^usage: callsyncd' "$T/out"
