#!/bin/sh
# Outage: the simulator goes away (connection refused, then stalls) in the
# middle of a drain.  Nothing is dead-lettered, no attempt is charged, the
# breaker opens (status shows it), closes again, and the backlog drains
# exactly once.
. "$(dirname "$0")/lib.sh"
t_setup
if [ "$CALLSYNC_PROFILE" = soak ]; then N=1000; else N=100; fi
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sql_ge() { [ "$(sql "$1")" -ge "$2" ]; }
sim_start --seed 43 --latency 50 --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
write_conf "escalation_team = 2001
max_attempts = 3
search_lag = 3"
# lib.sh's write_conf sets request_timeout = 5; the outage wants 2.
sed -i 's/^request_timeout = 5$/request_timeout = 2/' "$T/callsync.conf"
"$BIN/callsyncd" --config "$T/callsync.conf" --check >/dev/null || exit 1
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
gen_calls $N $((N / 3)) out >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
"$BIN/callsyncd" --config "$T/callsync.conf" -d -vv 2>"$T/w.log" &
WPID=$!; PIDS="$PIDS $WPID"
wait_for "some records delivered" 20 sql_ge "SELECT count(*) FROM outbox WHERE state='done'" 5
ndone0=$(sql "SELECT count(*) FROM outbox WHERE state='done'")
check "some delivered before the outage ($ndone0)" [ "$ndone0" -ge 5 ]
t0=$(date +%s)
sim_ctl '{"down":"refuse"}'
wait_for "breaker open (refuse)" 15 sql_is "SELECT breaker FROM workspace_state WHERE workspace='acme'" open
check "refuse: breaker opens" [ $? -eq 0 ]
"$BIN/callsync" --config "$T/callsync.conf" status >"$T/st.txt" 2>&1
check "refuse: callsync status shows the open breaker" grep -q open "$T/st.txt"
"$BIN/callsync" --config "$T/callsync.conf" status --json >"$T/st.json" 2>&1
is "refuse: callsync status --json breaker open" "$(jq -r 'select(.workspace=="acme")|.breaker' "$T/st.json" | head -1)" open
# --drain while down exits 3 at once (records waiting, workspace offline)
timeout 20 "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>>"$T/drain.log"
is "refuse: a --drain run during the outage exits 3" "$?" 3
sleep 2	# a moment inside the outage (probes back off), not a wait for state
sim_ctl '{"down":"stall"}'
sleep 4	# stall lasts past request_timeout = 2
is "stall: breaker still open" "$(sql "SELECT breaker FROM workspace_state WHERE workspace='acme'")" open
is "stall: nothing dead-lettered while down" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
sim_ctl '{"down":null}'
t1=$(date +%s)
wait_for "breaker closed" 70 sql_is "SELECT breaker FROM workspace_state WHERE workspace='acme'" closed
check "breaker closes when the server is back" [ $? -eq 0 ]
t2=$(date +%s)
wait_for "all delivered" 60 sql_is "SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')" 0
check "backlog drains after the outage" [ $? -eq 0 ]
t3=$(date +%s)
kill -TERM $WPID; wait $WPID
is "worker exits 0" "$?" 0
ndead=$(sql "SELECT count(*) FROM outbox WHERE state='dead'")
is "no record dead-lettered" "$ndead" 0
ncharged=$(sql "SELECT count(*) FROM attempt_log WHERE class='outage' AND charged=1")
is "no outage attempt charged" "$ncharged" 0
nout=$(sql "SELECT count(*) FROM attempt_log WHERE class='outage'")
maxatt=$(sql "SELECT max(attempts) FROM outbox WHERE state='done'")
check "delivered records charged few attempts (max $maxatt <= 3)" [ "$maxatt" -le 3 ]
nchg=$(sql "SELECT count(*) FROM attempt_log WHERE charged=1")
diag "charged attempt_log rows: $nchg: $(sql "SELECT class||':'||count(*) FROM attempt_log WHERE charged=1 GROUP BY class" | tr '\n' ' ')"
"$BIN/callsync" --config "$T/callsync.conf" status --json >"$T/st2.json" 2>&1
is "status --json breaker closed after" "$(jq -r 'select(.workspace=="acme")|.breaker' "$T/st2.json" | head -1)" closed
snap
exactly_once_checks
is "breaker stays open through the refuse+stall outage: one unreachable line (no flapping)" "$(grep -c 'unreachable' "$T/w.log")" 1
diag "outage: $N records, $ndone0 done before; down $((t1 - t0)) s; breaker closed $((t2 - t1)) s after; drained $((t3 - t2)) s later; dead $ndead; outage attempt rows $nout (charged $ncharged); max attempts $maxatt"
echo "OUTAGE records=$N down_s=$((t1 - t0)) reclose_s=$((t2 - t1)) drain_after_s=$((t3 - t2)) dead=$ndead outage_rows=$nout outage_charged=$ncharged max_attempts=$maxatt" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
