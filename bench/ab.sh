#!/bin/sh
# bench/ab.sh: the worker's CPU per Intercom request, build A against
# build B, over TLS, in one run.  Bench only, not in CI.
#
#   sh bench/ab.sh BIN_A BIN_B        e.g. an old commit's bin/ and bin/
#
# Both builds drain the same BENCH_AB_N call records (600, 3 per caller)
# through stunnel (tests/data/tls.sh, as test 59) from one simulator at
# BENCH_AB_LIMIT requests/min (25000) and BENCH_AB_LAT ms latency (20),
# reset between drains; the drains alternate A B A B ... BENCH_AB_ROUNDS
# times (3), so the machine's drift falls on both alike.  CPU is the
# worker's utime+stime (/proc/PID/stat) at the last delivery, over the
# requests the simulator received.  Prints a Markdown table: each drain,
# the medians, B/A, and what the difference is worth at the limit in
# share of one core (difference per request x requests per second).
#
# Written to measure what worker/jload.c and jdump.c (a hand-written
# JSON parser and writer) saved against jansson's own (issue 21: "remove
# them unless worth more than 5 % of a core at 25,000/min over TLS").
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
[ $# -eq 2 ] || { echo "usage: sh bench/ab.sh BIN_A BIN_B" >&2; exit 2; }
A=$1 B=$2
. bench/lib.sh
. tests/data/tls.sh
N=${BENCH_AB_N:-600}
LIMIT=${BENCH_AB_LIMIT:-25000}
LAT=${BENCH_AB_LAT:-20}
ROUNDS=${BENCH_AB_ROUNDS:-3}
TMAX=300
for b in "$A" "$B"; do
	for p in callsyncd callsync; do
		[ -x "$b/$p" ] || { echo "ab: $b/$p missing" >&2; exit 1; }
	done
done
tls_have || { echo "ab: stunnel4 and openssl needed" >&2; exit 1; }
b_setup
CLK=$(getconf CLK_TCK)
cpu_ms() { awk -v hz="$CLK" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000 / hz }' "/proc/$1/stat"; }

tls_certs "$T" >/dev/null || exit 1
BIN=$A sim_start ab --latency "$LAT" --rate-limit "$LIMIT" || exit 1
tls_start "$T" "${SIM_URL##*:}" || exit 1

# drain BIN TAG: prints "requests cpu_ms wall_s done"
drain() {
	_d=$T/$2; mkdir -p "$_d"
	curl -sf -X POST "$SIM_CTL/_sim/reset" >/dev/null || { echo "ab: reset failed" >&2; exit 1; }
	SIM_URL=$TLS_URL write_conf "$_d/c.conf" "$_d/o.db" "ca_file = $T/ca.pem"
	"$1/callsync" --db "$_d/o.db" init >/dev/null 2>&1
	gen_calls "$N" $((N / 3)) "$2" >"$_d/recs.jsonl"
	"$1/callsync" --db "$_d/o.db" enqueue --workspace acme "$_d/recs.jsonl" >/dev/null 2>&1
	_r0=$(sim_total); _t0=$(now_ms)
	"$1/callsyncd" --config "$_d/c.conf" 2>"$_d/worker.log" &
	_w=$!
	PIDS="$PIDS $_w"
	while :; do
		sleep 0.2
		_cpu=$(cpu_ms "$_w" 2>/dev/null || echo "${_cpu:-0}")
		_n=$(dbq "$_d/o.db" "SELECT count(*) FROM outbox WHERE state IN ('done', 'dead')")
		[ "$_n" -ge "$N" ] && break
		[ $(($(now_ms) - _t0)) -gt $((TMAX * 1000)) ] && break
	done
	_t1=$(now_ms)
	_cpu=$(cpu_ms "$_w")
	_r1=$(sim_total)
	kill -TERM "$_w"; wait "$_w" 2>/dev/null
	echo "$((_r1 - _r0)) $_cpu $(calc '%.1f' "($_t1 - $_t0) / 1000") $_n"
}

rows="| drain | build | requests | worker CPU | CPU per request | wall time | records done |
|---|---|---|---|---|---|---|"
AMS="" BMS="" i=1
while [ "$i" -le "$ROUNDS" ]; do
	for ab in A B; do
		eval "bin=\$$ab"
		log "ab: round $i, build $ab ($bin), $N records over TLS"
		set -- $(drain "$bin" "r$i$ab")
		ms=$(calc '%.4f' "$2 / ($1 > 0 ? $1 : 1)")
		[ "$ab" = A ] && AMS="$AMS $ms" || BMS="$BMS $ms"
		rows="$rows
| $i | $ab | $1 | $2 ms | $ms ms | $3 s | $4 |"
	done
	i=$((i + 1))
done
am=$(median $AMS) bm=$(median $BMS)
rps=$(calc '%.1f' "$LIMIT / 60")
share=$(calc '%.2f' "($bm - $am) * $rps / 10")
echo "$rows"
echo
echo "A = $A, B = $B; $N records, $LIMIT/min, ${LAT} ms, TLS; $ROUNDS rounds, alternating."
echo
echo "| | median CPU per request |"
echo "|---|---|"
echo "| A | $am ms |"
echo "| B | $bm ms |"
echo "| B / A | $(calc '%.3f' "$bm / ($am > 0 ? $am : 1)") |"
echo "| (B - A) at $LIMIT/min ($rps requests/s) | $share % of one core |"
