#!/bin/sh
# bench/lostdrain.sh: the 20 %-lost drain (issue 24).
#
#   sh bench/lostdrain.sh            prints one line per run
#   BENCH_VARS=FILE sh bench/lostdrain.sh  also appends the figures to
#                                    FILE as KEY<TAB>VALUE (bench/run.sh,
#                                    section 10, renders them)
#
# 60 call records of 20 callers; the simulator applies every write and
# drops 20 % of the answers (p_lost 0.2), answers in 0 ms, no rate limit;
# the worker with the production window (request_timeout 30,
# settle_margin 5, search_lag 300: 335 s before "not there").  Twice:
# search index without lag, then 1 s (conversations 2 s).  A run stops
# when every record is done or after BENCH_LOST_MAX seconds (120): then
# it says "not within N s".  Per run: seconds to the last delivery,
# duplicate conversations and contacts, requests per record, and the
# search lag samples the worker took meanwhile (lag.c: their number and
# p50 / p99 per kind; fewer than 50, so search_lag still rules here).
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
. bench/lib.sh
LOST_MAX=${BENCH_LOST_MAX:-120}
for b in callsyncd callsync intercom-sim; do
	[ -x "$BIN/$b" ] || { echo "lostdrain: $BIN/$b missing: run make" >&2; exit 1; }
done
b_setup

# lost KEY SIMFLAGS...: one drain.
lost() {
	k=$1; shift
	D=$T/lost$k; mkdir -p "$D"
	sim_start "lost$k" --seed 63 --latency 0 --p-lost 0.2 "$@" || exit 1
	write_conf "$D/c.conf" "$D/o.db" "max_attempts = 100
request_timeout = 30
settle_margin = 5
search_lag = 300"
	"$BIN/callsync" --db "$D/o.db" init >/dev/null 2>&1
	gen_calls 60 20 "l$k" >"$D/recs.jsonl"
	"$BIN/callsync" --db "$D/o.db" enqueue --workspace acme "$D/recs.jsonl" >/dev/null 2>&1
	t0=$(now_ms)
	"$BIN/callsyncd" --config "$D/c.conf" -d 2>"$D/worker.log" &
	wp=$!
	PIDS="$PIDS $wp"
	while [ "$(dbq "$D/o.db" "SELECT count(*) FROM outbox WHERE state = 'done'")" -lt 60 ] &&
	    [ $(( $(now_ms) - t0 )) -lt $((LOST_MAX * 1000)) ]; do
		sleep 0.2
	done
	t1=$(now_ms)
	kill -TERM $wp; wait $wp 2>/dev/null
	n=$(dbq "$D/o.db" "SELECT count(*) FROM outbox WHERE state = 'done'")
	sim_state >"$D/state.json"
	sim_stop
	dup=$(jq -r '.conversations[].body' "$D/state.json" | grep -o 'cs[0-9a-f]\{16\}' | sort | uniq -d | wc -l)
	dupc=$(( $(jq '[.contacts[] | select(.merged_into == null)] | length' "$D/state.json") - 20 ))
	req=$(jq .requests.total "$D/state.json")
	if [ "$n" -eq 60 ]; then
		bench_var LOST${k}_TIME "$(calc '%.1f' "($t1 - $t0) / 1000") s"
	else
		bench_var LOST${k}_TIME "not within $LOST_MAX s ($n of 60 done)"
	fi
	bench_var LOST${k}_DUP "$dup conversations, $dupc contacts"
	bench_var LOST${k}_RPR "$(calc '%.2f' "$req / 60")"
	bench_var LOST${k}_LOST "$(jq .faults.lost "$D/state.json")"
	# The search lag the worker learned meanwhile (lag.c): samples and
	# tail per kind, as callsync status --json has them.
	bench_var LOST${k}_LAG "$("$BIN/callsync" --db "$D/o.db" status --json 2>/dev/null |
	    jq -r 'select(.workspace == "acme") | .search_lag | [("contact", "conversation") as $k | .[$k] |
	    "\($k)s n=\(.n): p50 \(if .p50_s then (.p50_s * 10 | round / 10 | tostring) + " s" else "-" end), p99 \(if .p99_s then (.p99_s * 10 | round / 10 | tostring) + " s" else "-" end)"] | join("; ")')"
}
lost 0 --search-lag 0
lost 1 --search-lag 1 --conv-search-lag 2
