#!/bin/sh
# Producers under load: 4 sqlite3 CLI producers (contract SQL, one
# autocommit INSERT per record, .timeout 5000) and 2 `callsync enqueue`
# producers, all while two workers drain.  No producer sees an error, no
# record is lost, every record is delivered once.
. "$(dirname "$0")/lib.sh"
t_setup
if [ "$CALLSYNC_PROFILE" = soak ]; then PER=500; else PER=50; fi
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sim_start --seed 45 --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
write_conf "search_lag = 3"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
for p in 1 2 3 4 5 6; do
	gen_calls $PER 40 "p${p}x" >"$T/p$p.jsonl"
	# disjoint callers per producer: phone prefix per producer
	sed -i "s/+1555/+155$p/; s/\"caller\([0-9]\)/\"p${p}caller\1/g" "$T/p$p.jsonl"
done
"$BIN/callsyncd" --config "$T/callsync.conf" -d 2>"$T/w1.log" & W1=$!
"$BIN/callsyncd" --config "$T/callsync.conf" -d 2>"$T/w2.log" & W2=$!
PIDS="$PIDS $W1 $W2"
for p in 1 2 3 4; do
	(
	jq -rc '"INSERT INTO outbox (workspace, record_key, payload) VALUES (\u0027acme\u0027, \u0027\(.call_id)\u0027, \u0027\(tojson|gsub("\u0027";"\u0027\u0027"))\u0027) ON CONFLICT (workspace, record_key) DO NOTHING;"' "$T/p$p.jsonl" |
	    { echo ".timeout 5000"; echo ".bail on"; cat; } | sqlite3 -batch "$DB" >"$T/prod$p.out" 2>"$T/prod$p.err"
	echo $? >"$T/prod$p.rc"
	) &
	PP="$PP $!"
done
for p in 5 6; do
	(
	rc=0
	# one record per invocation, as an agent finishing calls would
	while read -r line; do
		printf '%s\n' "$line" | "$BIN/callsync" --db "$DB" enqueue --workspace acme - >>"$T/prod$p.out" 2>>"$T/prod$p.err" || rc=$?
	done <"$T/p$p.jsonl"
	echo $rc >"$T/prod$p.rc"
	) &
	PP="$PP $!"
done
t0=$(date +%s)
for pid in $PP; do wait $pid; done
t1=$(date +%s)
rcs=$(cat "$T"/prod?.rc | tr '\n' ' ')
is "every producer exited 0" "$rcs" "0 0 0 0 0 0 "
nerr=$(cat "$T"/prod?.err | grep -ci "locked\\|busy\\|error:\\|warning")
is "no producer saw 'database is locked'/SQLITE_BUSY/error" "$nerr" 0
[ "$nerr" -gt 0 ] && cat "$T"/prod?.err | head -5 | sed 's/^/# /'
TOTAL=$((PER * 6))
is "no record lost: $TOTAL in the outbox" "$(sql 'SELECT count(*) FROM outbox')" "$TOTAL"
wait_for "all done" 60 sql_is "SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')" 0
check "all drained" [ $? -eq 0 ]
t2=$(date +%s)
kill -TERM $W1 $W2; wait $W1; r1=$?; wait $W2; r2=$?
is "workers exit 0" "$r1 $r2" "0 0"
snap
exactly_once_checks
diag "producers: 6 x $PER records enqueued in $((t1 - t0)) s while 2 workers drained; all delivered $((t2 - t0)) s after start; producer errors $nerr"
echo "PRODUCERS producers=6 records=$TOTAL enqueue_s=$((t1 - t0)) total_s=$((t2 - t0)) producer_errors=$nerr" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
