#!/bin/sh
# Crash test: drain mixed records into a faulty simulator while the worker
# is killed with SIGKILL at random moments and, through the crash hook, at
# the worst moment (answer received, journal not yet committed).  Then
# every record is delivered exactly once or dead-lettered with a reason.
# The simulator answers with latency, and applies some writes late (1.5 s
# after arrival, whether or not the killed client is still there), as a
# loaded server does.
. "$(dirname "$0")/lib.sh"
t_setup
if [ "$CALLSYNC_PROFILE" = soak ]; then N=3000; KILLS=300; else N=300; KILLS=50; fi
# The ASan pass checks memory, not the statistics: half the kills.
if [ "${CALLSYNC_SANITIZED:-}" = 1 ] && [ "$CALLSYNC_PROFILE" != soak ]; then
	N=150; KILLS=25
fi
sim_start --seed 7 --p-lost 0.05 --p-5xx 0.05 --p-reset 0.02 \
    --latency 20 --jitter 80 --p-late 0.03 --late-ms 1500 \
    --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
write_conf "escalation_team = 2001
route = billing:team:2002
max_attempts = 100
search_lag = 3"
# Answers come in well under 2 s (late ones at 1.5 s): a short timeout
# keeps each in-doubt window (timeout + settle_margin + search_lag) short.
sed -i 's/^request_timeout = 5$/request_timeout = 2/' "$T/callsync.conf"
"$BIN/callsyncd" --config "$T/callsync.conf" --check >/dev/null || exit 1
gen_calls $N $((N / 3)) >"$T/calls.jsonl"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1 || "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>/dev/null
enqueue_sql "$T/calls.jsonl"
is "$N records enqueued" "$(sql 'SELECT count(*) FROM outbox')" "$N"

# Kill at random moments (50..550 ms), more records when it runs dry.
export CALLSYNC_TEST_CRASH=0.02
kill_cycles $KILLS "$T/worker.log" \
    "$BIN/tests/callsyncd-hooks" --config "$T/callsync.conf" -d
unset CALLSYNC_TEST_CRASH
diag "kills: $kills by SIGKILL from outside, $hooks by the crash hook"
check "worker was killed at least $KILLS times during the drain" [ $((kills + hooks)) -ge $KILLS ]
N=$(sql 'SELECT count(*) FROM outbox')
# Finish without kills (faults stay on).
drain_until_done 60
check "drained after the kills" [ $? -eq 0 ]
# Late writes may still be on their way when the drain ends: count once
# every one has been applied.
wait_for "every late write applied" 30 sh -c "curl -sf '$SIM_CTL/_sim/state' | jq -e '.faults.late_pending == 0' >/dev/null"
snap
exactly_once_checks
faults=$(st '.faults | .lost + .reset + ."5xx" + .late')
diag "records: $N; kills: $((kills + hooks)); faults injected: $faults (lost $(st .faults.lost), 5xx $(st '.faults."5xx"'), reset $(st .faults.reset), late $(st .faults.late)); requests: $(st .requests.total)"
echo "KILLTEST records=$N kills=$((kills + hooks)) faults=$faults delivered=$(sql "SELECT count(*) FROM outbox WHERE state='done'") dead=$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
