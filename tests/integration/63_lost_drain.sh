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
#
# The bound is on the worker's own time: 60 s of the drain outside
# database commits.  Every step of a record waits for a commit (its
# intent durable before its request), so a disk that takes a second per
# fsync (the full suite's neighbours on one ext4 disk can) stretches the
# drain whatever the settling does; that time is the worker's
# callsync_database_commit_seconds_total, read from /metrics, and the
# drain may take that much longer.  The old code's 335-s waits are not
# commits: it still fails.  FSYNC_DELAY_MS=1000 with bench/fsyncdelay.so
# preloaded shows it: 26 of 60 done at 74 s before the commit time was
# counted, all 60 with it.
. "$(dirname "$0")/lib.sh"
t_setup
ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer
LIMIT=${LOST_DRAIN_S:-60}
ndone() { sql "SELECT count(*) FROM outbox WHERE state='done'"; }
# Seconds the worker's loop has spent committing (0 if /metrics fails).
commit_s() {
	curl -sf -m 5 "$H/metrics" | awk '$1 == "callsync_database_commit_seconds_total" { printf "%d", $2; f = 1 } END { if (!f) print 0 }'
}
# drain_wait LIMIT: until all 60 are done, or LIMIT s of the drain have
# passed outside commits (at most 10 x LIMIT in all); 0 when all are done.
# Sets CS to the commit seconds at the end.
drain_wait() {
	dw_t0=$(date +%s); CS=0; dw_seen=-1
	while :; do
		[ "$(ndone)" -eq 60 ] && { CS=$(commit_s); return 0; }
		dw_el=$(($(date +%s) - dw_t0))
		# once a second: /metrics is a request to the worker
		[ "$dw_el" -ne "$dw_seen" ] && { CS=$(commit_s); dw_seen=$dw_el; }
		if [ $((dw_el - CS)) -gt "$1" ] || [ "$dw_el" -gt $(($1 * 10)) ]; then
			diag "timed out: $dw_el s, of which $CS s in commits"
			return 1
		fi
		sleep 0.1
	done
}

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
	drain_wait "$LIMIT"
	rc=$?
	t1=$(date +%s%3N)
	check "$name: all 60 records delivered within $LIMIT s outside commits ($(ndone) done after $(((t1 - t0) / 1000)) s, $CS s of it committing)" [ $rc -eq 0 ]
	# A slow drain has been seen twice under load (21 of 60, about 340
	# requests, in 60 s) and not reproduced alone: say where the records
	# stand and what the worker said, so that the next one can be read.
	if [ $rc -ne 0 ]; then
		diag "$name: records not done (state, in_doubt, attempts, next_at - now, lease_until - now):"
		sql "SELECT state, in_doubt, attempts, next_at - strftime('%s','now'), coalesce(lease_until - strftime('%s','now'), '-'), count(*) FROM outbox WHERE state <> 'done' GROUP BY 1, 2, 3, 4, 5 ORDER BY 6 DESC LIMIT 15" |
		    sed 's/^/#   /'
		diag "$name: the worker's warnings and notices (last 40):"
		grep -E '^<[0-5]>' "$T/w.log" | tail -40 | cut -c1-300 |
		    sed 's/^/#   /'
		# What the worker says of itself: in flight against its
		# target (a slot never given back stops the pump), the
		# breaker, a stall, doubts.
		diag "$name: /metrics and /healthz of the stuck worker:"
		curl -sf -m 5 "$H/metrics" | grep -E '^callsync_(requests_inflight|breaker_open|paused|database_stalled|records_(inflight|pending)|writes_in_doubt|requests_sent_total|throttled_total)' |
		    sed 's/^/#   /'
		curl -s -m 5 "$H/healthz" | head -c 1500 | sed 's/^/#   /'; echo
		[ -n "${TEST_LOGDIR:-}" ] &&
		    cp "$T/w.log" "$TEST_LOGDIR/63_lost_drain-$name-worker.log" &&
		    diag "worker log kept: $TEST_LOGDIR/63_lost_drain-$name-worker.log"
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
	echo "LOSTDRAIN run=$name records=60 lost=$fl reconciled=$nrec duplicates=$ndup requests=$nreq ms=$((t1 - t0)) commit_s=$CS done=$(ndone)" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
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
