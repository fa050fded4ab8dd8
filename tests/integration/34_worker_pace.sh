#!/bin/sh
# Pace (issue 15, item 0): with default settings the worker sizes its
# concurrency from the limit the server announces and the round trip it
# measures.  Against 6,000/min at 150 ms (100 requests/s: about 16 in
# flight by Little's law) it must go past the old fixed default of 8
# requests in flight, and it must never be answered 429: the limiter
# paces to X-RateLimit-Limit/Remaining whatever the concurrency.
# Functional, no timing assertion: the simulator counts the most requests
# it held open at once (requests.open_max) and every 429 it answered.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --latency 150 --rate-limit 6000 \
    --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
write_conf
cs init >/dev/null 2>&1
gen_calls 250 100 pace >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
"$BIN/callsyncd" --config "$T/callsync.conf" 2>"$T/worker.log" &
W=$!
PIDS="$PIDS $W"
done_all() { [ "$(sql "SELECT count(*) FROM outbox WHERE state IN ('done','dead')")" -eq 250 ]; }
wait_for "250 records delivered" 240 done_all
check "250 records delivered or dead-lettered" done_all
kill -TERM $W 2>/dev/null
wait $W
is "worker exits 0 on SIGTERM" "$?" 0
snap
is "no record dead-lettered" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
is "no 429 answered" "$(st '[.requests.by_endpoint[] | .["429"] // 0] | add // 0')" 0
is "no 429 in the fault counters" "$(st '.faults.rate_limited')" 0
om=$(st '.requests.open_max')
diag "most requests open at once: $om"
check "concurrency went past the old fixed default of 8 ($om)" [ "$om" -gt 8 ]
# And not past what the limit needs: 100/s x ~0.15 s x 1.25 + 2, with
# room for a slow machine's longer round trips; the default cap is 256.
check "concurrency stayed near what the limit needs ($om <= 64)" [ "$om" -le 64 ]
# Concurrent records that need the same new tag: one POST /tags per name
# (create-or-get by name, so a second one is harmless but spends the rate
# budget: up to 300 extra per 300 records were seen before).
ntags=$(st '.tags | length')
ncreate=$(st '[.requests.log[] | select(.endpoint == "POST /tags")] | length')
diag "tags in the simulator: $ntags, POST /tags sent: $ncreate"
check "tags exist ($ntags)" [ "$ntags" -gt 0 ]
is "each tag created by one POST /tags" "$ncreate" "$ntags"
exactly_once_checks
echo "1..$TAPN"
