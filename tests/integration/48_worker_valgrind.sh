#!/bin/sh
# The worker and the tool under valgrind: a drain of mixed records with
# faults (lost answers, 5xx, an invalid record), repeated until done; 0
# errors and nothing definitely lost.
. "$(dirname "$0")/lib.sh"
if [ "${CALLSYNC_SANITIZED:-0}" = 1 ]; then
	echo "ok 1 - # SKIP under ASan (valgrind cannot run ASan binaries)"
	exit 0
fi
if ! command -v valgrind >/dev/null 2>&1; then
	echo "ok 1 - # SKIP valgrind not installed"
	exit 0
fi
t_setup
if [ "$CALLSYNC_PROFILE" = soak ]; then N=150; else N=30; fi
VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
sim_start --seed 49 --p-lost 0.1 --p-5xx 0.1 --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
write_conf "escalation_team = 2001
max_attempts = 100
search_lag = 2"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
gen_calls $N $((N / 3)) vg >"$T/calls.jsonl"
echo '{"type":"call","call_id":"vg-bad","caller":{"phone":"12"},"summary":"invalid phone"}' >>"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
runs=0; vgfail=0; fatal=0; t0=$(date +%s)
while [ $runs -lt 40 ] && [ $(($(date +%s) - t0)) -lt 120 ]; do
	runs=$((runs + 1))
	valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
	    --log-file="$T/vg.$runs" "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>>"$T/w.log"
	rc=$?
	[ $rc -eq 99 ] && vgfail=$((vgfail + 1))
	[ $rc -eq 0 ] && break
	[ $rc -ne 3 ] && [ $rc -ne 99 ] && { fatal=$((fatal + 1)); break; }
	sleep 0.5	# let retry times come due
done
is "worker drained under valgrind (last exit $rc after $runs runs)" "$rc" 0
is "no valgrind error exit" "$vgfail" 0
is "no fatal exit" "$fatal" 0
nerr=$(cat "$T"/vg.* | grep -c 'ERROR SUMMARY: [1-9]')
is "every run: ERROR SUMMARY: 0 errors" "$nerr" 0
ndef=$(cat "$T"/vg.* | grep 'definitely lost:' | grep -vc 'definitely lost: 0 bytes')
is "every run: definitely lost: 0 bytes (or all heap blocks freed)" "$ndef" 0
[ "$nerr" -gt 0 ] || [ "$ndef" -gt 0 ] && grep -h -A12 'ERROR SUMMARY: [1-9]\|definitely lost in' "$T"/vg.* | head -40 | sed 's/^/# /'
is "invalid record dead-lettered" "$(sql "SELECT reason FROM dead_letter d JOIN outbox o ON o.id=d.outbox_id WHERE record_key='vg-bad'")" invalid_phone
is "all others delivered" "$(sql "SELECT count(*) FROM outbox WHERE state='done'")" "$N"
summ=$(cat "$T"/vg.* | grep -h 'ERROR SUMMARY' | awk '{s += $4} END {print s + 0}')
# the tool
tfail=0
for c in status ls "audit verify" "dlq ls" "show vg1" "audit --format csv"; do
	valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
	    --log-file="$T/vgt.log" "$BIN/callsync" --config "$T/callsync.conf" $c >/dev/null 2>&1
	r=$?
	if [ $r -eq 99 ] || grep -q 'ERROR SUMMARY: [1-9]' "$T/vgt.log"; then
		tfail=$((tfail + 1)); diag "callsync $c under valgrind:"; grep -A8 'Invalid\|definitely lost in\|uninitialised' "$T/vgt.log" | head -20 | sed 's/^/# /'
	fi
done
is "callsync status/ls/audit verify/dlq ls/show/audit under valgrind: 0 errors" "$tfail" 0
t1=$(date +%s)
diag "valgrind: $runs drain runs, $N+1 records, error summary total $summ, $((t1 - t0)) s"
echo "VALGRIND runs=$runs records=$((N + 1)) errors=$summ definite_leak_runs=$ndef tool_failures=$tfail seconds=$((t1 - t0))" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
