#!/bin/sh
# Group commit (issue 15, item 1): the worker writes every job's steps,
# intents, outcomes and the poll's claims of one event-loop turn in one
# transaction, and sends a request only after the commit that made its
# intent durable.  On slow storage (every fsync made 20 ms slower by an
# LD_PRELOAD shim, as on an SD card) the records are delivered exactly
# once with far fewer commits than the ~15 transactions a record took
# one write at a time; then the kill test: SIGKILL at random moments
# and through the crash hook (answer in, journal not committed) with
# fsyncs delayed 5 ms, faults on, and still no duplicate and no loss.
. "$(dirname "$0")/lib.sh"
t_setup
SHIM=""
# ASan must come first in LD_PRELOAD: the shim runs only without it.
if [ "${CALLSYNC_SANITIZED:-}" != 1 ] && command -v cc >/dev/null &&
    cc -shared -fPIC -o "$T/fsyncdelay.so" bench/fsyncdelay.c -ldl 2>"$T/cc.log"; then
	SHIM=$T/fsyncdelay.so
else
	diag "fsync delay shim not used (sanitized build or no compiler)"
fi
preload() { if [ -n "$SHIM" ]; then env LD_PRELOAD="$SHIM" "$@"; else "$@"; fi; }

ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer
sim_start --latency 20 --attributes "$ATTRS" || exit 1
write_conf "escalation_team = 2001
route = billing:team:2002"
cs init >/dev/null 2>&1
N=120
gen_calls $N 40 g >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
FSYNC_DELAY_MS=20 preload timeout 300 "$BIN/callsyncd" --config "$T/callsync.conf" \
    --drain 2>"$T/worker.log"
is "drain with delayed fsyncs exits 0" "$?" 0
snap
exactly_once_checks
commits=$(sed -n 's/.*requests, \([0-9]*\) group commits.*/\1/p' "$T/worker.log" | tail -1)
reqs=$(st '.requests.total')
diag "records: $N, requests: $reqs, group commits: ${commits:-?}"
check "group commits were made (${commits:-none})" [ "${commits:-0}" -gt 0 ]
# One write at a time, every request's answer was at least one commit
# and every write an intent commit more: fewer commits than requests
# shows that answers of different jobs shared commits.
check "fewer commits than requests ($commits < $reqs)" [ "${commits:-0}" -lt "$reqs" ]
check "at most 4 commits per record ($commits for $N)" [ "${commits:-999999}" -le $((N * 4)) ]
# Every write's intent was committed before its request left: the audit
# log has one write row per conversation, none missing (checked above),
# and no intent is left behind by a clean drain.
is "no intent left after a clean drain" "$(sql "SELECT count(*) FROM journal WHERE step LIKE 'intent:%'")" 0
sim_stop

# --- the kill variant (tests/integration/40_worker_kill.sh's machinery) ---
rm -f "$DB" "$DB-wal" "$DB-shm"
rm -rf "$DB.owners"
sim_start --seed 57 --p-lost 0.05 --p-5xx 0.05 --p-reset 0.02 \
    --latency 20 --jitter 80 --p-late 0.03 --late-ms 1500 \
    --attributes "$ATTRS" || exit 1
write_conf "escalation_team = 2001
route = billing:team:2002
max_attempts = 100
search_lag = 3"
sed -i 's/^request_timeout = 5$/request_timeout = 2/' "$T/callsync.conf"
cs init >/dev/null 2>&1
if [ "${CALLSYNC_SANITIZED:-}" = 1 ]; then N=100; KILLS=12; else N=200; KILLS=25; fi
gen_calls $N $((N / 3)) kk >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
# The worker with fsyncs 5 ms slower; env execs it, so the kill
# reaches the worker itself.
if [ -n "$SHIM" ]; then PRE="env LD_PRELOAD=$SHIM"; else PRE=""; fi
export FSYNC_DELAY_MS=5 CALLSYNC_TEST_CRASH=0.02
kill_cycles $KILLS "$T/worker2.log" \
    $PRE "$BIN/tests/callsyncd-hooks" --config "$T/callsync.conf" -d
unset FSYNC_DELAY_MS CALLSYNC_TEST_CRASH
diag "kills: $kills by SIGKILL from outside, $hooks by the crash hook"
check "worker was killed at least $KILLS times" [ $((kills + hooks)) -ge $KILLS ]
drain_until_done 60
check "drained after the kills" [ $? -eq 0 ]
wait_for "every late write applied" 30 sh -c "curl -sf '$SIM_CTL/_sim/state' | jq -e '.faults.late_pending == 0' >/dev/null"
snap
exactly_once_checks
echo "1..$TAPN"
