#!/bin/sh
# The 20 %-lost drain (issue 24): 60 call records of 20 callers, the
# simulator applying every write and dropping 20 % of the answers
# (p_lost), 0 ms latency, and the production window (request_timeout 30,
# settle_margin 5, search_lag 300: 335 s before "not there" may be
# concluded).  A write in doubt is settled on evidence: a positive search
# or read ends the doubt at once, so the backlog drains within 60 s, with
# no duplicate and nothing missing.  Twice: search index without lag, and
# with a small one (1 s, conversations 2 s); then a third time with a
# long-tailed lag, for exactly once only.
# Old code (a wait of the full window before any look): not within 60 s.
. "$(dirname "$0")/lib.sh"
t_setup
ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer
LIMIT=${LOST_DRAIN_S:-60}
ndone() { sql "SELECT count(*) FROM outbox WHERE state='done'"; }
all_done() { [ "$(ndone)" -eq 60 ]; }

run() {	# run NAME SIMFLAGS...
	name=$1; shift
	sim_start --seed 63 --latency 0 --p-lost 0.2 --attributes "$ATTRS" "$@" || exit 1
	write_conf "max_attempts = 100
search_lag = ${SEARCH_LAG:-300}"
	sed -i 's/^request_timeout = 5$/request_timeout = 30/; s/^settle_margin = 1$/settle_margin = 5/' "$T/callsync.conf"
	"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
	gen_calls 60 20 "$name" >"$T/calls.jsonl"
	enqueue_sql "$T/calls.jsonl"
	t0=$(date +%s%3N)
	listen_start "$T/callsync.conf" "$T/w.log" || exit 1
	wait_for "all 60 delivered" "$LIMIT" all_done
	rc=$?
	t1=$(date +%s%3N)
	check "$name: all 60 records delivered within $LIMIT s ($(ndone) done after $(((t1 - t0) / 1000)) s)" [ $rc -eq 0 ]
	# A slow drain has been seen twice under load (21 of 60, about 340
	# requests, in 60 s) and not reproduced alone: say where the records
	# stand and what the worker said, so that the next one can be read.
	if [ $rc -ne 0 ]; then
		diag "$name: records not done (state, in_doubt, attempts, next_at - now, lease_until - now):"
		sql "SELECT state, in_doubt, attempts, next_at - strftime('%s','now'), coalesce(lease_until - strftime('%s','now'), '-'), count(*) FROM outbox WHERE state <> 'done' GROUP BY 1, 2, 3, 4, 5 ORDER BY 6 DESC LIMIT 15" |
		    sed 's/^/#   /'
		diag "$name: the worker's warnings and waits (last 40):"
		grep -iE 'warn|doubt|wait|unreachable|stall|decision|lease|pause' "$T/w.log" |
		    tail -40 | cut -c1-300 | sed 's/^/#   /'
	fi
	kill -TERM $WPID; wait $WPID 2>/dev/null
	snap
	exactly_once_checks
	fl=$(st .faults.lost)
	check "$name: answers were lost ($fl)" [ "$fl" -gt 0 ]
	nrec=$(sql "SELECT count(*) FROM audit WHERE detail LIKE '%reconciled%'")
	ndup=$(uniq -d "$T/conv_markers" | wc -l)
	nreq=$(st .requests.total)
	diag "$name: 60 records, $nreq requests ($(echo "scale=2; $nreq / 60" | bc) per record), $fl answers lost, $nrec found by reconciliation, duplicates $ndup, $(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100)) s"
	echo "LOSTDRAIN run=$name records=60 lost=$fl reconciled=$nrec duplicates=$ndup requests=$nreq ms=$((t1 - t0)) done=$(ndone)" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
	sim_stop
	rm -f "$DB" "$DB-wal" "$DB-shm" "$T/w.log"
}
run nolag --search-lag 0
run lag --search-lag 1 --conv-search-lag 2
# A long-tailed search lag (median 2 s, a few over a minute, at most 90 s)
# and a worker search_lag that covers it: exactly once still; a lane
# whose lost create shows late in search waits for it, so no 60-s bound.
LIMIT=200 SEARCH_LAG=100 run tail --search-lag 2 --search-lag-tail 90
echo "1..$TAPN"
