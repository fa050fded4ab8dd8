#!/bin/sh
# bench/slowdisk.sh: the drain on slow storage (issue 15, item 2).
#
#   sh bench/slowdisk.sh             prints a Markdown table
#   BENCH_VARS=FILE sh bench/slowdisk.sh   also appends the figures to
#                                    FILE as KEY<TAB>VALUE (bench/run.sh,
#                                    section 8, renders them)
#
# Every fsync, fdatasync and sync_file_range of the worker is delayed by
# 0, 5, 20 and 50 ms (BENCH_SD_DELAYS) with the LD_PRELOAD shim
# bench/fsyncdelay.c, as on the SD cards and eMMC of edge boxes.  The
# simulator answers in 150 ms and allows 10,000 requests/min (the
# Intercom default); the backlog is BENCH_SD_N call records (300), three
# per caller; default configuration.  Each drain runs under
# `strace -f -c -e trace=fsync,fdatasync` for the fsyncs per delivered
# record (the shim's own count is the cross-check).  A run stops when
# every record is done or after BENCH_SD_MAX seconds (300); its rate is
# then over what was delivered.
#
# Two fractions of the limit: over the whole run (from the worker's
# start, boot checks included, to the last record done: a short backlog's
# ramp-up and tail weigh on it), and in steady state: the requests the
# simulator answered (not 429) in the whole 10-s windows (its own
# windows, as bench/pace.sh counts them) that start at least
# BENCH_SD_WARM seconds (3) after the worker's start and end before the
# window of the last request, over those windows' budget.
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
. bench/lib.sh
SD_N=${BENCH_SD_N:-900}
SD_WARM=${BENCH_SD_WARM:-3}
SD_DELAYS=${BENCH_SD_DELAYS:-"0 5 20 50"}
SD_MAX=${BENCH_SD_MAX:-300}
SD_LIMIT=10000
SD_LAT=150
SHIM=${FSYNCDELAY_SO:-build/fsyncdelay.so}

for c in strace sqlite3 jq curl cc; do
	command -v $c >/dev/null || { echo "slowdisk: $c is missing (apt-get install -y $c)" >&2; exit 1; }
done
for b in callsyncd callsync intercom-sim; do
	[ -x "$BIN/$b" ] || { echo "slowdisk: $BIN/$b missing: run make" >&2; exit 1; }
done
if [ ! -f "$SHIM" ] || [ bench/fsyncdelay.c -nt "$SHIM" ]; then
	mkdir -p "$(dirname "$SHIM")"
	cc -O2 -shared -fPIC -o "$SHIM" bench/fsyncdelay.c -ldl || exit 1
fi
SHIM=$(cd "$(dirname "$SHIM")" && pwd)/$(basename "$SHIM")

b_setup
sd_done() { dbq "$1" "SELECT count(*) FROM outbox WHERE state IN ('done', 'dead')"; }

# slow DELAY_MS: one drain; prints "records/s requests/min done fsyncs
# shim_count seconds 429s steady_fraction steady_windows".
slow() {
	_d=$T/sd$1; mkdir -p "$_d"
	sim_start "sd$1" --latency "$SD_LAT" --rate-limit "$SD_LIMIT" || exit 1
	write_conf "$_d/c.conf" "$_d/o.db"
	"$BIN/callsync" --db "$_d/o.db" init >/dev/null 2>&1
	gen_calls "$SD_N" $((SD_N / 3)) d >"$_d/recs.jsonl"
	"$BIN/callsync" --db "$_d/o.db" enqueue --workspace acme \
	    "$_d/recs.jsonl" >/dev/null 2>&1
	_r0=$(sim_total)
	_t0=$(now_ms)
	strace -f -c -e trace=fsync,fdatasync,sync_file_range --seccomp-bpf \
	    -o "$_d/strace.txt" env LD_PRELOAD="$SHIM" FSYNC_DELAY_MS="$1" \
	    FSYNC_COUNT_FILE="$_d/shim.txt" \
	    "$BIN/callsyncd" --config "$_d/c.conf" -d 2>"$_d/worker.log" &
	_w=$!
	PIDS="$PIDS $_w"
	while :; do
		sleep 0.5
		_n=$(sd_done "$_d/o.db")
		_now=$(now_ms)
		[ "$_n" -ge "$SD_N" ] && break
		[ $((_now - _t0)) -gt $((SD_MAX * 1000)) ] && break
	done
	_t1=$(now_ms)
	_r1=$(sim_total)
	_q=$(sim_429)
	sim_state >"$_d/state.json"
	# SIGTERM to callsyncd (strace's tracee), then strace writes its table.
	_c=$(pgrep -x -P "$_w" callsyncd | head -1)
	[ -n "$_c" ] && kill -TERM "$_c"
	wait "$_w" 2>/dev/null
	sim_stop
	_s=$(calc '%.3f' "($_t1 - $_t0) / 1000")
	_f=$(awk '$NF == "fsync" || $NF == "fdatasync" || $NF == "sync_file_range" { s += $4 } END { print s + 0 }' "$_d/strace.txt")
	_sh=$(awk '{ print $2 + $4 + $6 }' "$_d/shim.txt" 2>/dev/null | tail -1)
	# Steady state: whole windows from t0 + warm-up to the last request's
	# window (exclusive); "- 0" when the run was too short for one.
	_ws=$(( (_t0 + SD_WARM * 1000 + 9999) / 10000 ))
	_wf=$(jq -r --argjson lat "$SD_LAT" --argjson ws "$_ws" \
	    --argjson budget $(( (SD_LIMIT + 5) / 6 )) '
	    [.requests.log[] | select(.status != 0) |
	     {w: ((.at_ms + $lat) / 10000 | floor), s: .status}] as $r |
	    ($r | map(.w) | max) as $we |
	    if $we > $ws then
	      [($r | map(select(.s != 429 and .w >= $ws and .w < $we)) |
	        length) /
	       (($we - $ws) * $budget), $we - $ws] | @tsv
	    else "-\t0" end' "$_d/state.json")
	echo "$(calc '%.1f' "$_n / $_s") $(calc '%.0f' "($_r1 - $_r0) / ($_s / 60)") $_n $_f ${_sh:-0} $_s $_q $_wf"
}

bench_var SD_N "$SD_N"
bench_var SD_MAX "$SD_MAX"
table="| fsync delay | records/s | requests/min | fraction of 10,000/min, whole run | fraction, steady 10-s windows | records done | fsyncs per delivered record | time | 429s |
|---|---|---|---|---|---|---|---|---|"
for ms in $SD_DELAYS; do
	log "slow storage: fsync delay $ms ms, $SD_N records"
	set -- $(slow "$ms")
	frac=$(calc '%.3f' "$2 / $SD_LIMIT")
	per=$(calc '%.1f' "$4 / ($3 > 0 ? $3 : 1)")
	bench_var SD${ms}_RATE "$1"; bench_var SD${ms}_RPM "$2"; bench_var SD${ms}_FRAC "$frac"
	bench_var SD${ms}_DONE "$3"; bench_var SD${ms}_FSYNCS "$per"
	bench_var SD${ms}_SHIM "$(calc '%.1f' "$5 / ($3 > 0 ? $3 : 1)")"
	bench_var SD${ms}_SECS "$6"; bench_var SD${ms}_429 "$7"
	wfrac=$8
	[ "$wfrac" = - ] || wfrac=$(calc '%.3f' "$8")
	bench_var SD${ms}_WFRAC "$wfrac"; bench_var SD${ms}_WINDOWS "$9"
	table="$table
| $ms ms | $1 | $2 | $frac | **$wfrac** ($9 windows) | $3 of $SD_N | $per | $6 s | $7 |"
done
bench_var SD_TABLE "$table"
printf '%s\n' "$table"
