#!/bin/sh
# Two callsyncd processes on one database: leases keep them from claiming
# the same record; every record lands once.
. "$(dirname "$0")/lib.sh"
t_setup
if [ "$CALLSYNC_PROFILE" = soak ]; then N=3000; else N=300; fi
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sim_start --seed 44 --latency 5 --jitter 10 --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
# max_inflight 16: each worker claims at most 32 at a time (twice its
# in-flight target), so the two contend for claims all along; uncapped
# (the target follows the limit, and this simulator sends none), one
# worker can claim the whole backlog before the other has booted.
write_conf "escalation_team = 2001
route = billing:team:2002
search_lag = 3
max_inflight = 16"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
gen_calls $N $((N / 3)) two >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
t0=$(date +%s)
"$BIN/callsyncd" --config "$T/callsync.conf" -d -vv 2>"$T/w1.log" & W1=$!
"$BIN/callsyncd" --config "$T/callsync.conf" -d -vv 2>"$T/w2.log" & W2=$!
PIDS="$PIDS $W1 $W2"
wait_for "all done" 60 sql_is "SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')" 0
check "both workers drained all $N records" [ $? -eq 0 ]
t1=$(date +%s)
kill -TERM $W1 $W2; wait $W1; r1=$?; wait $W2; r2=$?
is "both exit 0 on SIGTERM" "$r1 $r2" "0 0"
d1=$(grep -c ': delivered' "$T/w1.log"); d2=$(grep -c ': delivered' "$T/w2.log")
check "both workers did work ($d1 + $d2)" [ "$d1" -gt 0 ] && [ "$d2" -gt 0 ]
is "deliveries logged = records ($d1 + $d2)" "$((d1 + d2))" "$N"
grep -ho 'acme/[^:]*: delivered' "$T/w1.log" "$T/w2.log" | sort | uniq -d >"$T/both"
is "no record delivered by both workers" "$(wc -l <"$T/both")" 0
is "no lease lost (no double claim)" "$(cat "$T/w1.log" "$T/w2.log" | grep -c 'lease lost')" 0
snap
exactly_once_checks
is "every conversation created once (one create request per conversation)" \
    "$(st '[.requests.log[]|select(.method=="POST" and .path=="/conversations" and .status==200)]|length')" "$(st '.conversations|length')"
is "audit: one conversation row per record" "$(sql "SELECT count(*) FROM (SELECT record_key FROM audit WHERE step='conversation' GROUP BY record_key HAVING count(*) > 1)")" 0
diag "two workers: $N records in $((t1 - t0)) s ($d1 by one, $d2 by the other)"
echo "TWO records=$N seconds=$((t1 - t0)) w1=$d1 w2=$d2" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
