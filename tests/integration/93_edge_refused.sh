#!/bin/sh
# A write that never left the box is not in doubt (issue 20 item 1).
#
# 1. Connections refused for 7 s in the middle of a drain, with the
#    default request_timeout, settle_margin and search_lag (30 + 5 + 300
#    s of doubt for a search-reconciled write).  Writes handed to libcurl
#    then refused never reached the simulator: their intents are dropped
#    at once and the records retry as an outage.  Measured: time from the
#    link's return to the last delivery (goal: under 15 s; before the
#    fix about 6 minutes, each refused write waiting out its doubt).
# 2. The counter-case: an answer lost after the simulator applied the
#    write (p_lost) is still in doubt, reconciled, found, not resent.
. "$(dirname "$0")/lib.sh"
t_setup
N=60
DEADLINE=${REFUSED_DEADLINE:-60}	# seconds after the link returns
ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sql_ge() { [ "$(sql "$1")" -ge "$2" ]; }
now_ms() { date +%s%3N; }

# --- 1. refused for 7 s ---------------------------------------------------
sim_start --seed 93 --latency 50 --attributes "$ATTRS" || exit 1
write_conf "max_attempts = 5"
# The defaults of the three timings that make a doubt wait long.
sed -i '/^request_timeout = /d; /^settle_margin = /d' "$T/callsync.conf"
"$BIN/callsyncd" --config "$T/callsync.conf" --check >/dev/null || exit 1
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
gen_calls $N $((N / 3)) ref >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
"$BIN/callsyncd" --config "$T/callsync.conf" -d -v 2>"$T/w.log" &
WPID=$!; PIDS="$PIDS $WPID"
wait_for "some records delivered" 30 sql_ge "SELECT count(*) FROM outbox WHERE state='done'" 5
ndone0=$(sql "SELECT count(*) FROM outbox WHERE state='done'")
check "some delivered before the outage ($ndone0)" [ "$ndone0" -ge 5 ]
check "records still to deliver at the outage" [ "$ndone0" -lt $N ]
td=$(now_ms)
sim_ctl '{"down":"refuse"}'
wait_for "breaker open" 15 sql_is "SELECT breaker FROM workspace_state WHERE workspace='acme'" open
check "refused: the breaker opens" [ $? -eq 0 ]
# Down for 7 s in all (a deadline, not a wait for a state).
while [ $(($(now_ms) - td)) -lt 7000 ]; do sleep 0.1; done
sim_ctl '{"down":null}'
tb=$(now_ms)
wait_for "all delivered" "$DEADLINE" sql_is "SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')" 0
rc=$?
te=$(now_ms)
# A write whose connection the kernel had accepted when the listening
# socket closed (in the accept queue, request written, then reset) did
# reach the server's side: it is rightly in doubt and waits it out.  Such
# a race is named and left out of the timing; a refused one never is.
doubted=$(grep 'outcome unknown' "$T/w.log" | sed -n 's|^.*acme/\([^:]*\): .*$|\1|p' | sort -u)
nrefdoubt=0
for k in $doubted; do
	m=$(sql "SELECT a.message FROM attempt_log a JOIN outbox o ON o.id = a.outbox_id WHERE o.record_key = '$k' AND a.message LIKE 'POST %' ORDER BY a.id DESC LIMIT 1")
	diag "in doubt: $k after '$m'"
	case "$m" in *"Couldn't connect"*|*"Failed to connect"*|*"Could not resolve"*) nrefdoubt=$((nrefdoubt + 1)) ;; esac
done
if [ -n "$doubted" ]; then
	last=$(sql "SELECT max(delivered_at) FROM outbox WHERE record_key NOT IN ($(echo $doubted | sed "s/\([^ ]*\)/'\1'/g; s/ /,/g"))")
	te=$(( last * 1000 + 999 ))
	[ "$te" -lt "$tb" ] && te=$tb
fi
back_ms=$((te - tb))
if [ $rc -eq 0 ]; then
	check "refused: last delivery within 15 s of the link's return ($back_ms ms)" [ $back_ms -lt 15000 ]
	BACK="${back_ms} ms"
else
	not_ok "refused: last delivery within 15 s of the link's return (not within $DEADLINE s)"
	BACK="not within $DEADLINE s"
fi
# The writes libcurl was given and the refused connection stopped: the
# attempt rows of the outage that name a write (POST, not a search).
nref=$(sql "SELECT count(*) FROM attempt_log WHERE class='outage' AND message LIKE 'POST %' AND message NOT LIKE '%/search%' AND message LIKE '%connect%'")
check "refused: writes were refused after libcurl had them ($nref attempt rows)" [ "$nref" -ge 1 ]
diag "refused writes: $(sql "SELECT step||': '||message FROM attempt_log WHERE class='outage' AND message LIKE 'POST %' AND message NOT LIKE '%/search%' LIMIT 3" | tr '\n' '|')"
is "refused: no refused write went through doubt" "$nrefdoubt" 0
diag "writes in doubt (accepted by the server's side before it went down): $(echo $doubted | wc -w)"
is "refused: no record left with an open intent" "$(sql "SELECT count(*) FROM journal WHERE step LIKE 'intent:%'")" 0
is "refused: no outage attempt charged" "$(sql "SELECT count(*) FROM attempt_log WHERE class='outage' AND charged=1")" 0
kill -TERM $WPID; wait $WPID
is "refused: worker exits 0" "$?" 0
snap
exactly_once_checks
is "refused: the simulator created each call's conversation once (request log)" \
    "$(st '[.requests.log[] | select(.method=="POST" and .path=="/conversations" and .status==200)] | length')" "$N"
diag "refused 7 s: $N records, $ndone0 done before; link back to last delivery: $BACK; refused writes $nref"
echo "REFUSED records=$N down_ms=$((tb - td)) back_to_last_delivery=$BACK refused_writes=$nref" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
sim_stop

# --- 2. an answer lost after the write was applied: still in doubt --------
DB=$T/lost.db
sim_start --seed 94 --search-lag 1 --attributes "$ATTRS" || exit 1
write_conf "search_lag = 2"
sed -i 's/^request_timeout = 5$/request_timeout = 2/' "$T/callsync.conf"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
sim_ctl '{"p_lost":1.0,"fault_paths":"/conversations"}'
printf '{"type":"call","call_id":"lost1","caller":{"phone":"+15550009301"},"summary":"Lost answer","transcript":"hello","outcome":"done"}\n' >"$T/one.jsonl"
enqueue_sql "$T/one.jsonl"
"$BIN/callsyncd" --config "$T/callsync.conf" -d -v 2>"$T/w2.log" &
WPID=$!; PIDS="$PIDS $WPID"
lost_once() { sim_state | jq -e '.faults.lost >= 1' >/dev/null; }
wait_for "the create's answer to be lost" 20 lost_once
check "lost: the simulator applied the create and dropped its answer" [ $? -eq 0 ]
sim_ctl '{"p_lost":0}'
wait_for "delivered" 40 sql_is "SELECT state FROM outbox WHERE record_key='lost1'" done
check "lost: delivered" [ $? -eq 0 ]
kill -TERM $WPID; wait $WPID
check "lost: the write went through doubt ('outcome unknown' logged)" grep -q 'conversation create outcome unknown' "$T/w2.log"
is "lost: reconciled (found), not resent: its journal row says so" \
    "$(sql "SELECT count(*) FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key='lost1' AND j.step='conversation' AND j.detail LIKE '%reconciled%'")" 1
snap
m=$(sql "SELECT marker FROM outbox WHERE record_key='lost1'")
is "lost: one conversation in the simulator" "$(st --arg m "$m" '[.conversations[] | select(.body | contains($m))] | length')" 1
is "lost: POST /conversations reached the simulator once" "$(st '[.requests.log[] | select(.method=="POST" and .path=="/conversations")] | length')" 1
