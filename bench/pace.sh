#!/bin/sh
# bench/pace.sh: how much of Intercom's rate limit the worker uses with
# its default settings (issue 15, item 0).  For each latency x limit x
# caller mix: a fresh simulator (--latency L --rate-limit R), a backlog
# big enough to outlast the measurement, `callsyncd -d` with the default
# configuration (PACE_CONF adds lines to the workspace, e.g.
# "max_inflight = 64"), then PACE_WINDOWS whole 10-s windows of the
# simulator are counted.
#
# The simulator charges a request to the 10-s window (wall clock) in
# which it answers it; with a fixed latency that is its arrival (at_ms in
# its request log) plus the latency, so the count per window is exact and
# needs no sampling at a window's edge.  The first PACE_WARM seconds
# after the worker starts are skipped (boot checks, first claims).
#
#   sh bench/pace.sh                         the 12 settings
#   PACE_LAT="150" PACE_RATES="10000" PACE_MIX=repeat sh bench/pace.sh
#   PACE_CONF="max_inflight = 64" sh bench/pace.sh
#
# Prints one line per setting (and a TSV to $PACE_OUT when set):
#   latency rate mix fraction 429s open_max records delivered
# fraction = requests answered (not 429) in the windows / the windows'
# budget ((rate + 5) / 6 per window, the simulator's own rounding).
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
. bench/lib.sh
LATS=${PACE_LAT:-"150 300"}
RATES=${PACE_RATES:-"1000 10000 25000"}
MIXES=${PACE_MIX:-"repeat distinct"}
WINDOWS=${PACE_WINDOWS:-2}
WARM=${PACE_WARM:-3}

for c in sqlite3 jq curl; do
	command -v $c >/dev/null || { echo "pace: $c is missing" >&2; exit 1; }
done
b_setup

# pace_one LAT RATE MIX: prints "fraction 429s open_max records done".
pace_one() {
	_d=$T/p$1_$2_$3; mkdir -p "$_d"
	sim_start "${_d#$T/}" --latency "$1" --rate-limit "$2" || exit 1
	write_conf "$_d/c.conf" "$_d/o.db" "${PACE_CONF:-}"
	"$BIN/callsync" --db "$_d/o.db" init >/dev/null 2>&1
	# Enough records for warm-up + the windows + slack, at ~5 requests
	# per record (6.6 on average: never runs dry).
	_n=$(( $2 * (WARM + 10 * WINDOWS + 12) / 60 / 5 + 20 ))
	if [ "$3" = repeat ]; then _c=$(( _n / 3 )); else _c=$_n; fi
	gen_calls "$_n" "$_c" "$3" >"$_d/recs.jsonl"
	"$BIN/callsync" --db "$_d/o.db" enqueue --workspace acme \
	    "$_d/recs.jsonl" >/dev/null 2>&1
	_t0=$(now_ms)
	"$BIN/callsyncd" --config "$_d/c.conf" -d 2>"$_d/worker.log" &
	_w=$!
	PIDS="$PIDS $_w"
	# The first whole window after the warm-up, then WINDOWS of them.
	_ws=$(( (_t0 + WARM * 1000 + 9999) / 10000 ))
	_we=$(( _ws + WINDOWS ))
	# End of the last window plus the latency (the answers still count).
	while [ "$(now_ms)" -lt $(( _we * 10000 + $1 + 300 )) ]; do
		sleep 0.2
	done
	_open=$(dbq "$_d/o.db" "SELECT count(*) FROM outbox WHERE state IN ('pending', 'inflight')")
	kill -TERM "$_w" 2>/dev/null
	wait "$_w" 2>/dev/null
	sim_state >"$_d/state.json"
	sim_stop
	jq -r --argjson lat "$1" --argjson ws "$_ws" --argjson we "$_we" \
	    --argjson budget $(( ($2 + 5) / 6 )) '
	    [.requests.log[] | select(.status != 0) |
	     ((.at_ms + $lat) / 10000 | floor) as $w |
	     select($w >= $ws and $w < $we)] as $in |
	    [($in | map(select(.status != 429)) | length) /
	     (($we - $ws) * $budget),
	     ($in | map(select(.status == 429)) | length),
	     .requests.open_max] | @tsv' "$_d/state.json" |
	    { read -r frac q om
	      printf '%.3f %s %s %s %s\n' "$frac" "$q" "$om" "$_n" \
	          "$(dbq "$_d/o.db" "SELECT count(*) FROM outbox WHERE state = 'done'")"
	      [ "$_open" -gt 0 ] || log "pace: backlog ran out before the end ($1 ms, $2/min, $3)"; }
}

printf '%-8s %-7s %-9s %-9s %-5s %-9s %-8s %s\n' latency rate mix fraction 429s open_max records delivered
for lat in $LATS; do
	for rate in $RATES; do
		for mix in $MIXES; do
			log "pace: ${lat} ms, ${rate}/min, $mix"
			set -- $(pace_one "$lat" "$rate" "$mix")
			printf '%-8s %-7s %-9s %-9s %-5s %-9s %-8s %s\n' "$lat" "$rate" "$mix" "$1" "$2" "$3" "$4" "$5"
			[ -n "${PACE_OUT:-}" ] && printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$lat" "$rate" "$mix" "$1" "$2" "$3" "$4" "$5" >>"$PACE_OUT"
		done
	done
done
