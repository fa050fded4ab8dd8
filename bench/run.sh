#!/bin/sh
# bench/run.sh: the benchmarks of issue #8 (make bench).  Writes
# BENCHMARKS.md from bench/BENCHMARKS.md.in with the measured figures.
#
#   sh bench/run.sh                  everything, about 10 minutes
#   BENCH_1M=1 sh bench/run.sh       also the 1,000,000-record backlog
#   BENCH_RUNS=5 sh bench/run.sh     runs per repeated measurement (3)
#   BENCH_ONLY="1 2" sh bench/run.sh only these sections (testing)
#   BENCH_ONLY=7 sh bench/run.sh     the caller context only (a minute)
#   KEEP=1                           keep the temp dir
#
# Needs: bin/ built (make), sqlite3, jq, curl, cc, valgrind, /usr/bin/time
# (Debian package "time").  Timing figures are medians of BENCH_RUNS runs
# where marked; ratios are taken between runs made side by side in one
# invocation, so a noisy machine moves both sides alike.
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
. bench/lib.sh
RUNS=${BENCH_RUNS:-3}
ONLY=${BENCH_ONLY:-"1 2 3 4 5 6 7 8 9 10 11"}
OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
START=$(date +%s)

for c in sqlite3 jq curl cc valgrind callgrind_annotate; do
	command -v $c >/dev/null || { echo "bench: $c is missing (sudo make deps)" >&2; exit 1; }
done
if [ ! -x /usr/bin/time ]; then
	echo "bench: /usr/bin/time is missing: apt-get install -y time" >&2
	exit 1
fi
for b in callsyncd callsync intercom-sim; do
	[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing: run make" >&2; exit 1; }
done

# render: BENCHMARKS.md from the template and $VARS.
render() {
	awk -F'\t' 'NR == FNR { gsub("\001", "\n", $2); v[$1] = $2; next }
		{ line = $0
		  while (match(line, /@[A-Z0-9_]+@/)) {
			k = substr(line, RSTART + 1, RLENGTH - 2)
			line = substr(line, 1, RSTART - 1) (k in v ? v[k] : "(not measured)") substr(line, RSTART + RLENGTH)
		  }
		  print line }' "$VARS" bench/BENCHMARKS.md.in >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
}
# BENCH_RENDER_ONLY=1: rewrite BENCHMARKS.md from the figures of the
# last run (bench/out/vars.tsv) after a template change; measures nothing.
if [ -n "${BENCH_RENDER_ONLY:-}" ]; then
	VARS=bench/out/vars.tsv
	render
	exit
fi

b_setup
VARS=$T/vars
: >"$VARS"
# put KEY VALUE: a figure for the template (@KEY@).
put() { printf '%s\t%s\n' "$1" "$(printf '%s' "$2" | tr '\n' '\001')" >>"$VARS"; log "$1 = $2"; }
want() { case " $ONLY " in *" $1 "*) return 0;; esac; return 1; }

cc -O2 -o "$T/sqlins" bench/sqlins.c $(pkg-config --cflags --libs sqlite3) || exit 1
SQLINS=$T/sqlins

# time_v FILE KEY: a field of /usr/bin/time -v output.
time_v() { sed -n "s/^[[:space:]]*$2: //p" "$1" | tail -1; }
# secs H:MM:SS.ss or M:SS.ss -> seconds
secs() { echo "$1" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }'; }
cpu_s() { calc '%.3f' "$(time_v "$1" 'User time (seconds)') + $(time_v "$1" 'System time (seconds)')"; }
rss_mb() { calc '%.1f' "$(time_v "$1" 'Maximum resident set size (kbytes)') / 1024"; }
done_count() { dbq "$1" "SELECT count(*) FROM outbox WHERE state = 'done'"; }
open_count() { dbq "$1" "SELECT count(*) FROM outbox WHERE state IN ('pending', 'inflight')"; }

# start_worker DIR CONF: callsyncd in the foreground under /usr/bin/time -v;
# sets WPID (the time process; callsyncd is its only child).
start_worker() {
	/usr/bin/time -v -o "$1/time.txt" "$BIN/callsyncd" --config "$2" -d \
	    2>"$1/worker.log" &
	WPID=$!
	PIDS="$PIDS $WPID"
}
# stop_worker: SIGTERM to callsyncd (time reports its usage on exit).
stop_worker() {
	_c=$(pgrep -P "$WPID" 2>/dev/null | head -1)
	[ -n "$_c" ] && kill -TERM "$_c" 2>/dev/null
	wait "$WPID" 2>/dev/null
}

log "bench: temp dir $T, $RUNS runs per repeated figure"

# ---------------------------------------------------------------------
# 1. Enqueue
if want 1; then
	N_ENQ=${BENCH_ENQ_N:-10000}
	N_SQL=${BENCH_SQL_N:-2000}
	D=$T/enq; mkdir -p "$D"
	gen_calls "$N_ENQ" $((N_ENQ / 2)) e >"$D/recs.jsonl"
	head -n "$N_SQL" "$D/recs.jsonl" >"$D/recs_sql.jsonl"
	put ENQ_BYTES "$(calc '%.0f' "$(wc -c <"$D/recs.jsonl") / $N_ENQ")"
	r_tool="" r_bare500="" r_sql="" r_bare1="" r_sqln="" r_bare1n=""
	x_tool="" x_sql="" x_sqln=""
	for run in $(seq "$RUNS"); do
		log "enqueue run $run/$RUNS"
		rm -f "$D"/*.db*
		"$BIN/callsync" --db "$D/tool.db" init >/dev/null 2>&1
		t0=$(now_ms)
		"$BIN/callsync" --db "$D/tool.db" enqueue --workspace acme \
		    "$D/recs.jsonl" >/dev/null 2>"$D/enq.err" || { cat "$D/enq.err" >&2; exit 1; }
		t1=$(now_ms)
		a=$(calc '%.0f' "$N_ENQ / (($t1 - $t0) / 1000)")
		set -- $("$SQLINS" insert "$D/bare500.db" bare 500 full <"$D/recs.jsonl")
		b=$(calc '%.0f' "$1 / $2")
		"$BIN/callsync" --db "$D/sql.db" init >/dev/null 2>&1
		set -- $("$SQLINS" insert "$D/sql.db" outbox 1 full <"$D/recs_sql.jsonl")
		c=$(calc '%.0f' "$1 / $2")
		set -- $("$SQLINS" insert "$D/bare1.db" bare 1 full <"$D/recs_sql.jsonl")
		d=$(calc '%.0f' "$1 / $2")
		"$BIN/callsync" --db "$D/sqln.db" init >/dev/null 2>&1
		set -- $("$SQLINS" insert "$D/sqln.db" outbox 1 normal <"$D/recs_sql.jsonl")
		e=$(calc '%.0f' "$1 / $2")
		set -- $("$SQLINS" insert "$D/bare1n.db" bare 1 normal <"$D/recs_sql.jsonl")
		f=$(calc '%.0f' "$1 / $2")
		r_tool="$r_tool $a" r_bare500="$r_bare500 $b" r_sql="$r_sql $c"
		r_bare1="$r_bare1 $d" r_sqln="$r_sqln $e" r_bare1n="$r_bare1n $f"
		x_tool="$x_tool $(calc '%.3f' "$a / $b")"
		x_sql="$x_sql $(calc '%.3f' "$c / $d")"
		x_sqln="$x_sqln $(calc '%.3f' "$e / $f")"
	done
	put ENQ_N "$N_ENQ"; put SQL_N "$N_SQL"
	put ENQ_TOOL "$(median $r_tool)"; put ENQ_BARE500 "$(median $r_bare500)"
	put ENQ_TOOL_X "$(median $x_tool)"; put ENQ_TOOL_ALL "$(echo $x_tool)"
	put ENQ_SQL "$(median $r_sql)"; put ENQ_BARE1 "$(median $r_bare1)"
	put ENQ_SQL_X "$(median $x_sql)"; put ENQ_SQL_ALL "$(echo $x_sql)"
	put ENQ_SQLN "$(median $r_sqln)"; put ENQ_BARE1N "$(median $r_bare1n)"
	put ENQ_SQLN_X "$(median $x_sqln)"; put ENQ_SQLN_ALL "$(echo $x_sqln)"
fi

# ---------------------------------------------------------------------
# 2. Drain, CPU-bound (simulator: no latency, no rate limit)
# drain_once DIR N SYNC: fresh simulator and database, N records, one
# worker under /usr/bin/time -v until all N are done.  The worker runs
# with -d and is stopped by the script rather than with --drain, because
# --drain can hang at the end of a backlog (lost wake-up, see findings);
# a stall of 3 s ends the run and is counted.  Prints "wall cpu requests
# rss_mb delivered stalled" (wall: worker start to last delivery).
drain_once() {
	_d=$1; rm -rf "$_d"; mkdir -p "$_d"
	sim_start "${_d#$T/}" || exit 1
	write_conf "$_d/c.conf" "$_d/o.db"
	sed -i 's/^lease = 120$/lease = 120\nsynchronous = '"$3"'/' "$_d/c.conf"
	"$BIN/callsync" --db "$_d/o.db" init >/dev/null 2>&1
	gen_calls "$2" $(($2 / 2)) d >"$_d/recs.jsonl"
	"$BIN/callsync" --db "$_d/o.db" enqueue --workspace acme "$_d/recs.jsonl" \
	    >/dev/null 2>&1
	_t0=$(now_ms)
	start_worker "$_d" "$_d/c.conf"
	watch_done "$_d/o.db" "$2" 3 300
	stop_worker
	_req=$(sim_total)
	sim_state | jq -c '.requests.by_endpoint' >"$_d/endpoints.json"
	sim_stop
	echo "$(calc '%.3f' "($W_LAST - $_t0) / 1000") $(cpu_s "$_d/time.txt") $_req $(rss_mb "$_d/time.txt") $(done_count "$_d/o.db") $W_STALLED"
}
if want 2; then
	N_CPU=${BENCH_CPU_N:-1000}
	STALLS=0
	for sync in full normal; do
		rq="" rr="" cpr="" rss="" cpr_rec=""
		for run in $(seq "$RUNS"); do
			log "CPU-bound drain ($sync) run $run/$RUNS"
			set -- $(drain_once "$T/cpu_$sync" "$N_CPU" "$sync")
			wall=$1 cpu=$2 req=$3 mb=$4 dn=$5
			[ "$6" = 1 ] && { STALLS=$((STALLS + 1)); log "stalled: $dn of $N_CPU delivered"; }
			rq="$rq $(calc '%.0f' "$req / $wall")"
			rr="$rr $(calc '%.1f' "$dn / $wall")"
			cpr="$cpr $(calc '%.3f' "$cpu * 1000 / $req")"
			rss="$rss $mb"
			CALLS=$(calc '%.2f' "$req / $dn")
		done
		U=$(echo $sync | tr a-z A-Z)
		put CPU_${U}_REQS "$(median $rq)"; put CPU_${U}_RECS "$(median $rr)"
		put CPU_${U}_MSREQ "$(median $cpr)"; put CPU_${U}_RSS "$(median $rss)"
		put CPU_${U}_REQS_ALL "$(echo $rq)"
		put CPU_CALLS "$CALLS"
	done
	put CPU_N "$N_CPU"
	put CPU_STALLS "$STALLS of $((RUNS * 2))"
	put CPU_ENDPOINTS "$(jq -r 'to_entries | map("`\(.key)` \(.value | to_entries | map(.value) | add)") | join(", ")' "$T/cpu_full/endpoints.json")"

	# Instructions per request (callgrind), default durability.
	N_CG=${BENCH_CG_N:-300}
	D=$T/cg; mkdir -p "$D"
	log "callgrind: $N_CG records"
	sim_start cg/sim || exit 1
	write_conf "$D/c.conf" "$D/o.db"
	"$BIN/callsync" --db "$D/o.db" init >/dev/null 2>&1
	gen_calls "$N_CG" $((N_CG / 2)) g >"$D/recs.jsonl"
	"$BIN/callsync" --db "$D/o.db" enqueue --workspace acme "$D/recs.jsonl" >/dev/null 2>&1
	valgrind --tool=callgrind --callgrind-out-file="$D/cg.out" \
	    "$BIN/callsyncd" --config "$D/c.conf" -d 2>"$D/vg.log" &
	VG=$!
	PIDS="$PIDS $VG"
	watch_done "$D/o.db" "$N_CG" 15 600
	req=$(sim_total)
	kill -TERM "$VG"; wait "$VG"
	put CG_STALLED "$W_STALLED"
	sim_stop
	ir=$(callgrind_annotate "$D/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
	put CG_N "$N_CG"; put CG_REQ "$req"; put CG_IR "$ir"
	put CG_IR_REQ "$(calc '%.0f' "$ir / $req")"
	put CG_IR_REC "$(calc '%.0f' "$ir / $N_CG")"
	# Inclusive cost of the worker's own functions (main and the event
	# loop left out): where the instructions go, libraries included.
	callgrind_annotate --inclusive=yes "$D/cg.out" 2>/dev/null |
	    sed -n 's/^ *\([0-9,]*\) ( *\([0-9.]*\)%)  worker\/\([^ ]*\) \[.*callsyncd\]$/| `\3` | \2% | \1 |/p' |
	    grep -v 'callsyncd.c:main\|engine_run' | head -16 >"$D/top.md"
	put CG_TOP "$(cat "$D/top.md")"
fi

# ---------------------------------------------------------------------
# 3. Drain, Intercom-shaped: 150 ms latency, 1000/min in 10 s windows.
# shaped DIR INFLIGHT: a backlog bigger than a minute can drain; 10 s
# warm-up, then a 60 s measurement between two samples of the
# simulator's counters and the outbox.
shaped() {
	_d=$1; mkdir -p "$_d"
	sim_start "${_d#$T/}" --latency 150 --rate-limit 1000 || exit 1
	write_conf "$_d/c.conf" "$_d/o.db" "max_inflight = $2"
	"$BIN/callsync" --db "$_d/o.db" init >/dev/null 2>&1
	gen_calls 600 300 s >"$_d/recs.jsonl"
	"$BIN/callsync" --db "$_d/o.db" enqueue --workspace acme "$_d/recs.jsonl" >/dev/null 2>&1
	start_worker "$_d" "$_d/c.conf"
	sleep "$SH_WARM"
	r0=$(sim_total); q0=$(sim_429); d0=$(done_count "$_d/o.db"); t0=$(now_ms)
	sleep "$SH_SECS"
	r1=$(sim_total); q1=$(sim_429); d1=$(done_count "$_d/o.db"); t1=$(now_ms)
	stop_worker
	sim_state | jq -c '.faults' >"$_d/faults.json"
	sim_stop
	_min=$(calc '%.4f' "($t1 - $t0) / 60000")
	echo "$(calc '%.0f' "($r1 - $r0) / $_min") $((q1 - q0)) $((d1 - d0)) $(calc '%.2f' "($r1 - $r0) / ($d1 - $d0 > 0 ? $d1 - $d0 : 1)") $(rss_mb "$_d/time.txt") $(calc '%.1f' "($d1 - $d0) / $_min")"
}
if want 3; then
	SH_WARM=${BENCH_SHAPED_WARM:-10}
	SH_SECS=${BENCH_SHAPED_SECS:-60}
	put SH_SECS "$SH_SECS"; put SH_WARM "$SH_WARM"
	for inf in 8 1; do
		log "Intercom-shaped drain, max_inflight=$inf (${SH_WARM}+${SH_SECS} s)"
		set -- $(shaped "$T/shaped$inf" "$inf")
		put SH${inf}_RPM "$1"; put SH${inf}_FRAC "$(calc '%.3f' "$1 / 1000")"
		put SH${inf}_429 "$2"; put SH${inf}_DONE "$3"; put SH${inf}_CALLS "$4"
		put SH${inf}_RSS "$5"; put SH${inf}_RECPM "$6"
	done
fi

# ---------------------------------------------------------------------
# 4. Backlog scale: peak RSS and the drain rate of the first records.
# backlog DIR N: bulk backlog of N, worker until N_FIRST delivered (or
# BL_MAX seconds).  Prints "insert_s first_delivery_s rate rss_mb
# delivered".
backlog() {
	_d=$1; rm -rf "$_d"; mkdir -p "$_d"
	sim_start "${_d#$T/}" || exit 1
	write_conf "$_d/c.conf" "$_d/o.db"
	"$BIN/callsync" --db "$_d/o.db" init >/dev/null 2>&1
	_t0=$(now_ms)
	bulk_backlog "$_d/o.db" "$2" b
	_ins=$(calc '%.1f' "($(now_ms) - $_t0) / 1000")
	start_worker "$_d" "$_d/c.conf"
	_ts=$(now_ms); _tf="" _ta="" _tb="" _n=0
	while :; do
		_n=$(done_count "$_d/o.db")
		_now=$(now_ms)
		[ -z "$_tf" ] && [ "$_n" -ge 1 ] && _tf=$_now
		[ -z "$_ta" ] && [ "$_n" -ge "$BL_SKIP" ] && { _ta=$_now; _na=$_n; }
		[ "$_n" -ge $((BL_SKIP + BL_FIRST)) ] && { _tb=$_now; _nb=$_n; break; }
		[ $((_now - _ts)) -gt $((BL_MAX * 1000)) ] && break
		sleep 0.2
	done
	stop_worker
	sim_stop
	if [ -z "$_tb" ]; then	# timed out: rate over what was delivered
		_tb=$(now_ms); _nb=$_n
		[ -z "$_ta" ] && { _ta=$_ts; _na=0; }
	fi
	echo "$_ins $(calc '%.1f' "(${_tf:-$_tb} - $_ts) / 1000") $(calc '%.1f' "($_nb - $_na) / (($_tb - $_ta) / 1000)") $(rss_mb "$_d/time.txt") $_n $(calc '%.2f' "$(cpu_s "$_d/time.txt") * 1000 / ($_n > 0 ? $_n : 1)")"
}
if want 4; then
	BL_SKIP=${BENCH_BL_SKIP:-100}
	BL_FIRST=${BENCH_BL_FIRST:-1000}
	BL_MAX=${BENCH_BL_MAX:-60}
	put BL_SKIP "$BL_SKIP"; put BL_FIRST "$BL_FIRST"; put BL_MAX "$BL_MAX"
	sizes="10000 100000"
	[ -n "${BENCH_1M:-}" ] && sizes="$sizes 1000000"
	# RUNS rounds, each size once per round, side by side: the rates and
	# CPU per record are medians, the ratios medians of each round's.
	r_10000="" r_100000="" r_1000000="" c_10000="" c_100000="" c_1000000=""
	x100="" x1m=""
	for run in $(seq "$RUNS"); do
		for n in $sizes; do
			log "backlog of $n records, run $run/$RUNS"
			set -- $(backlog "$T/bl$n" "$n")
			put BL${n}_INS "$1 s"; put BL${n}_FIRST "$2 s"
			put BL${n}_RSS "$4 MiB"; put BL${n}_DONE "$5"
			eval "r_$n=\"\$r_$n $3\"; c_$n=\"\$c_$n $6\"; last_$n=$3"
		done
		x100="$x100 $(calc '%.3f' "$last_100000 / $last_10000")"
		[ -n "${BENCH_1M:-}" ] && x1m="$x1m $(calc '%.3f' "$last_1000000 / $last_10000")"
	done
	for n in 10000 100000 1000000; do
		case " $sizes " in
		*" $n "*)
			eval "put BL${n}_RATE \"\$(median \$r_$n)\"; put BL${n}_CPU \"\$(median \$c_$n) ms\""
			eval "put BL${n}_RATE_ALL \"\$(echo \$r_$n)\""
			;;
		*)
			for k in INS FIRST RATE RSS DONE CPU RATE_ALL; do put BL${n}_$k "not run (BENCH_1M=1)"; done
			;;
		esac
	done
	put BL_X100 "$(median $x100)"; put BL_X100_ALL "$(echo $x100)"
	if [ -n "${BENCH_1M:-}" ]; then
		put BL_X1M "$(median $x1m)"; put BL_X1M_ALL "$(echo $x1m)"
	else
		put BL_X1M "not run (BENCH_1M=1)"; put BL_X1M_ALL ""
	fi
fi

# ---------------------------------------------------------------------
# 5. Recovery after an outage (scaled: 6000/min, smaller backlog).
if want 5; then
	N_REC=${BENCH_REC_N:-500}
	OUT_S=${BENCH_OUTAGE_S:-15}
	REC_INF=${BENCH_REC_INFLIGHT:-32}
	D=$T/rec; mkdir -p "$D"
	sim_start rec --latency 150 --rate-limit 6000 || exit 1
	write_conf "$D/c.conf" "$D/o.db" "max_inflight = $REC_INF"
	"$BIN/callsync" --db "$D/o.db" init >/dev/null 2>&1
	gen_calls "$N_REC" $((N_REC / 2)) r >"$D/recs.jsonl"
	start_worker "$D" "$D/c.conf"
	wait_until 10 sh -c "[ \$(curl -sf $SIM_CTL/_sim/state | jq .requests.total) -ge 2 ]"
	log "recovery: outage of $OUT_S s while $N_REC records arrive"
	sim_ctl '{"down":"refuse"}'
	"$SQLINS" insert "$D/o.db" outbox 100 full <"$D/recs.jsonl" >/dev/null
	sleep "$OUT_S"
	r0=$(sim_total); q0=$(sim_429)
	pre=$(done_count "$D/o.db")
	sim_ctl '{"down":null}'
	tu=$(now_ms)
	# A stall of 40 s: longer than the worst probe backoff after the outage.
	watch_done "$D/o.db" "$N_REC" 40 600
	td=$W_LAST; tf=${W_FIRST:-$W_LAST}
	r1=$(sim_total); q1=$(sim_429)
	# First request the simulator answered after the restore (its log has
	# unix ms).
	tq=$(sim_state | jq --argjson tu "$tu" '[.requests.log[] | select(.at_ms >= $tu) | .at_ms] | min // empty')
	stop_worker
	sim_stop
	calls=$((r1 - r0))
	put REC_PRE "$pre"
	put REC_FIRSTREQ "$(calc '%.1f' "(${tq:-$tu} - $tu) / 1000")"
	put REC_X_NET "$(calc '%.2f' "(($td - ${tq:-$tu}) / 1000) / ($calls / 100)")"
	put REC_N "$N_REC"; put REC_OUT "$OUT_S"; put REC_INF "$REC_INF"
	put REC_CALLS "$calls"; put REC_429 "$((q1 - q0))"
	put REC_FIRST "$(calc '%.1f' "($tf - $tu) / 1000")"
	put REC_STALLED "$W_STALLED"
	put REC_TIME "$(calc '%.1f' "($td - $tu) / 1000")"
	put REC_MIN "$(calc '%.1f' "$calls / 100")"
	put REC_X "$(calc '%.2f' "(($td - $tu) / 1000) / ($calls / 100)")"
	put REC_DONE "$(done_count "$D/o.db")"
fi

# ---------------------------------------------------------------------
# 6. Enqueue-to-delivered latency, trickle on an idle worker.
# trickle DIR LATENCY [WAKE]: 1 record per 200 ms for LAT_SECS s, with
# wake_on_enqueue = WAKE (true).  Prints "p50_conv p99_conv p50_done
# p99_done n p50_first p99_first" (ms); first: to the first request the
# simulator received after the insert (meaningful at 0 ms latency, where
# a record is done long before the next is inserted).
trickle() {
	_d=$1; mkdir -p "$_d"
	sim_start "${_d#$T/}" --latency "$2" || exit 1
	write_conf "$_d/c.conf" "$_d/o.db"
	sed -i "s/^\[worker\]\$/[worker]\nwake_on_enqueue = ${3:-true}/" "$_d/c.conf"
	"$BIN/callsync" --db "$_d/o.db" init >/dev/null 2>&1
	_n=$((LAT_SECS * 5))
	gen_calls "$_n" "$_n" t >"$_d/recs.jsonl"
	start_worker "$_d" "$_d/c.conf"
	wait_until 10 sh -c "[ \$(curl -sf $SIM_CTL/_sim/state | jq .requests.total) -ge 2 ]"
	sleep 1
	"$SQLINS" trickle "$_d/o.db" 200 <"$_d/recs.jsonl" >"$_d/sent.txt"
	watch_done "$_d/o.db" "$_n" 10 60
	stop_worker
	sim_state | jq '.requests.log[].at_ms' | sort -n >"$_d/req.txt"
	sim_stop
	# For each insert (in time order), the first request at or after it.
	sort -k2,2n "$_d/sent.txt" | awk 'NR == FNR { r[++n] = $1; next }
	    { while (i < n && r[i + 1] < $2) i++; if (i < n) print r[i + 1] - $2 }' \
	    "$_d/req.txt" - >"$_d/first.txt"
	dbq "$_d/o.db" "SELECT a.record_key, max(CASE WHEN a.step = 'conversation' THEN a.at END), max(a.at) FROM audit a JOIN outbox o ON o.record_key = a.record_key AND o.state = 'done' WHERE a.kind = 'write' GROUP BY a.record_key" |
	    tr '|' ' ' >"$_d/audit.txt"
	awk 'NR == FNR { sent[$1] = $2; next }
	    ($1 in sent) { print $2 - sent[$1], $3 - sent[$1] }' \
	    "$_d/sent.txt" "$_d/audit.txt" >"$_d/lat.txt"
	_p() { cut -d' ' -f"$1" "$_d/lat.txt" | sort -n | awk -v p="$2" '{ v[NR] = $1 }
	    END { if (NR == 0) { print "n/a"; exit } i = int(p * NR + 0.999999); if (i < 1) i = 1; print v[i] }'; }
	_f() { sort -n "$_d/first.txt" | awk -v p="$1" '{ v[NR] = $1 }
	    END { if (NR == 0) { print "n/a"; exit } i = int(p * NR + 0.999999); if (i < 1) i = 1; print v[i] }'; }
	echo "$(_p 1 0.5) $(_p 1 0.99) $(_p 2 0.5) $(_p 2 0.99) $(wc -l <"$_d/lat.txt") $(_f 0.5) $(_f 0.99)"
}
if want 6; then
	LAT_SECS=${BENCH_LAT_SECS:-30}
	put LAT_SECS "$LAT_SECS"; put LAT_N "$((LAT_SECS * 5))"
	# LAT0P: the same trickle with wake_on_enqueue = false (poll only),
	# the "before" of issue 15 item 3, side by side in this run.
	for run in "0 true 0" "0 false 0P" "150 true 150"; do
		set -- $run
		lat=$1 wake=$2 k=$3
		log "latency: trickle for $LAT_SECS s, simulator latency $lat ms, wake_on_enqueue = $wake"
		set -- $(trickle "$T/lat$k" "$lat" "$wake")
		put LAT${k}_C50 "$1"; put LAT${k}_C99 "$2"
		put LAT${k}_D50 "$3"; put LAT${k}_D99 "$4"; put LAT${k}_N "$5"
		put LAT${k}_F50 "$6"; put LAT${k}_F99 "$7"
	done
fi

# ---------------------------------------------------------------------
# 7. caller context (issue 16): bench/context.sh
if want 7; then
	. bench/context.sh
	bench_context
fi

# ---------------------------------------------------------------------
# 8. Slow storage: fsync delayed 0, 5, 20, 50 ms (bench/slowdisk.sh).
if want 8; then
	BENCH_VARS=$VARS sh bench/slowdisk.sh >/dev/null || exit 1
fi

# ---------------------------------------------------------------------
# 9. TLS: the handshake's cost and the worker over TLS vs plain HTTP
# (bench/tls.sh).  Without stunnel it says so in the tables and exits 0.
if want 9; then
	BENCH_VARS=$VARS sh bench/tls.sh >/dev/null || exit 1
fi

# ---------------------------------------------------------------------
# 10. The 20 %-lost drain (bench/lostdrain.sh, issue 24).
if want 10; then
	BENCH_VARS=$VARS sh bench/lostdrain.sh >/dev/null || exit 1
fi

# ---------------------------------------------------------------------
# 11. Webhook acknowledgements, idle and while draining (bench/webhook.sh,
# issue 22).
if want 11; then
	BENCH_VARS=$VARS sh bench/webhook.sh >/dev/null || exit 1
fi

# ---------------------------------------------------------------------
# machine and report
put DATE "$(date -u '+%Y-%m-%d %H:%M UTC')"
put COMMIT "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- worker tools 2>/dev/null || echo ' (worker/tools modified)')"
put CPU_MODEL "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
put NPROC "$(nproc)"
put MEM "$(free -m | awk '/^Mem:/ { print $2 " MiB total, " $7 " MiB available" }')"
put KERNEL "$(uname -r)"
put SQLITE_V "$(sqlite3 --version | cut -d' ' -f1) (CLI), library $(pkg-config --modversion sqlite3)"
put CURL_V "$(curl --version | head -1 | cut -d' ' -f1-2), lib $(pkg-config --modversion libcurl)"
put OS "$(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown}")"
put FS "$(df -T "$T" | awk 'NR == 2 { print $2 " (" $1 ")" }')"
put VALGRIND_V "$(valgrind --version)"
put TIME_V "$(dpkg-query -W -f '${Package} ${Version}' time 2>/dev/null || echo '/usr/bin/time')"
put RUNS "$RUNS"
put TOTAL_S "$(( $(date +%s) - START ))"

render
mkdir -p bench/out && cp "$VARS" bench/out/vars.tsv
log "bench: wrote $OUT in $(( $(date +%s) - START )) s"
