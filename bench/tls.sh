#!/bin/sh
# bench/tls.sh: what TLS costs the worker (issue 15, item 0: "keep fresh
# connections for non-repeatable writes cheap; measure the handshake
# cost").  Bench only, not in CI.
#
#   sh bench/tls.sh                    prints Markdown tables
#   BENCH_VARS=FILE sh bench/tls.sh    also appends the figures to FILE
#                                      as KEY<TAB>VALUE (bench/run.sh,
#                                      section 9, renders them)
#
# stunnel (Debian stunnel4) terminates TLS in front of the simulator with
# a throwaway P-256 CA (tests/data/tls.sh, as test 59); its log at level
# info tells every handshake full ("new session negotiated") or resumed
# ("previous session reused").
#
# (a) The raw handshake on this machine, no HTTP: `openssl s_time` -new
#     and -reuse (BENCH_TLS_STIME seconds each, 5) for TLS 1.3 and 1.2.
#     s_time cannot resume TLS 1.3 (it saves the session before the
#     server's ticket arrives: stunnel's log shows every "reuse"
#     connection full), so TLS 1.3 resumption is measured with one curl
#     process fetching BENCH_TLS_SEQ URLs (200) one connection each
#     (Connection: close), with its session cache and with
#     --no-sessionid.  CPU per handshake: the client's user+sys time
#     (s_time's connections/user sec; /usr/bin/time for curl) and
#     stunnel's (/proc/PID/stat), over the connections.
# (b) The worker draining BENCH_TLS_N call records (300, 3 per caller,
#     default configuration) from the simulator at 150 ms latency and
#     10,000/min, through TLS and in plain HTTP, side by side against the
#     same simulator (reset between runs): requests, connections opened
#     (connect() calls, strace -f -c --seccomp-bpf on both sides alike),
#     full and resumed handshakes, worker CPU per request (utime+stime
#     from /proc/PID/stat), wall time; ratios TLS/plain.
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
. bench/lib.sh
. tests/data/tls.sh
TN=${BENCH_TLS_N:-300}
TSTIME=${BENCH_TLS_STIME:-5}
TSEQ=${BENCH_TLS_SEQ:-200}
TLIMIT=10000
TLAT=150
TMAX=${BENCH_TLS_MAX:-300}

if ! tls_have; then
	log "tls: stunnel (apt-get install -y stunnel4) or openssl missing: skipped"
	bench_var TLS_TABLE_RAW "(skipped: stunnel absent; apt-get install -y stunnel4)"
	bench_var TLS_TABLE_DRAIN "(skipped: stunnel absent)"
	exit 0
fi
for c in strace sqlite3 jq curl; do
	command -v $c >/dev/null || { echo "tls: $c is missing (apt-get install -y $c)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "tls: /usr/bin/time missing: apt-get install -y time" >&2; exit 1; }
for b in callsyncd callsync intercom-sim; do
	[ -x "$BIN/$b" ] || { echo "tls: $BIN/$b missing: run make" >&2; exit 1; }
done

b_setup
CLK=$(getconf CLK_TCK)
# cpu_ms PID: user+system CPU time of PID so far, in ms.
cpu_ms() { awk -v hz="$CLK" '{ sub(/^.*\) /, ""); print ($12 + $13) * 1000 / hz }' "/proc/$1/stat"; }
# hs: "full resumed" handshakes in stunnel's log so far.
hs() { set -- $(tls_counts); echo "$2 $3"; }

tls_certs "$T" >/dev/null || exit 1
sim_start tls --latency "$TLAT" --rate-limit "$TLIMIT" || exit 1
SIM_PORT=${SIM_URL##*:}
tls_start "$T" "$SIM_PORT" || exit 1
log "tls: stunnel $TLS_URL -> simulator :$SIM_PORT"

# ---- (a) raw handshakes ---------------------------------------------
# stime PROTO MODE: "connections conn_per_user_s real_s server_cpu_ms full resumed"
stime() {
	_p=$1 _m=$2
	set -- $(hs); _f0=$1 _r0=$2
	_c0=$(cpu_ms "$TLS_PID")
	openssl s_time -connect "127.0.0.1:$TLS_PORT" -CAfile "$T/ca.pem" \
	    "-$_p" "-$_m" -time "$TSTIME" >"$T/stime.out" 2>&1
	_c1=$(cpu_ms "$TLS_PID")
	set -- $(hs)
	_n=$(sed -n 's/^\([0-9]*\) connections in [0-9.]*s; \([0-9.]*\) connections\/user sec.*/\1 \2/p' "$T/stime.out" | tail -1)
	_real=$(sed -n 's/^[0-9]* connections in \([0-9]*\) real seconds.*/\1/p' "$T/stime.out" | tail -1)
	echo "$_n ${_real:-0} $(calc '%.0f' "$_c1 - $_c0") $(( $1 - _f0 )) $(( $2 - _r0 ))"
}
raw="| handshake | connections | handshakes/s (wall) | client CPU ms per handshake | stunnel CPU ms per connection | full / resumed (stunnel) |
|---|---|---|---|---|---|"
for pm in "tls1_3 new" "tls1_3 reuse" "tls1_2 new" "tls1_2 reuse"; do
	set -- $pm
	log "tls: openssl s_time -$2 -$1, ${TSTIME} s"
	k=$(echo "$1_$2" | tr 'a-z.' 'A-Z_')
	set -- $1 $2 $(stime "$1" "$2")
	# $3 connections, $4 per user s, $5 real s, $6 stunnel ms, $7 full, $8 resumed
	[ "${3:-0}" -gt 0 ] || { log "tls: s_time -$2 -$1 failed: $(tail -2 "$T/stime.out")"; continue; }
	cms=$(calc '%.3f' "1000 / $4"); sms=$(calc '%.3f' "$6 / $3")
	rate=$(calc '%.0f' "$3 / ($5 > 0 ? $5 : 1)")
	bench_var "TLS_${k}_CONN" "$3"; bench_var "TLS_${k}_RATE" "$rate"
	bench_var "TLS_${k}_CMS" "$cms"; bench_var "TLS_${k}_SMS" "$sms"
	raw="$raw
| s_time -$2, $(echo "$1" | sed 's/tls1_/TLS 1./') | $3 | $rate | $cms | $sms | $7 / $8 |"
done

# curlseq MODE: one curl, TSEQ URLs, one connection each; MODE reuse|new.
# Prints "wall_ms client_cpu_ms server_cpu_ms full resumed".
curlseq() {
	_o=""
	[ "$1" = new ] && _o=--no-sessionid
	_i=0; : >"$T/urls"
	while [ $_i -lt "$TSEQ" ]; do
		echo "url = \"$TLS_URL/_sim/state\"" >>"$T/urls"
		echo "output = /dev/null" >>"$T/urls"
		_i=$((_i + 1))
	done
	set -- $(hs); _f0=$1 _r0=$2
	_c0=$(cpu_ms "$TLS_PID"); _t0=$(now_ms)
	/usr/bin/time -f '%U %S' -o "$T/curl.time" curl -s $_o --tlsv1.3 \
	    --cacert "$T/ca.pem" -H 'Connection: close' -K "$T/urls"
	_t1=$(now_ms); _c1=$(cpu_ms "$TLS_PID")
	set -- $(hs)
	echo "$((_t1 - _t0)) $(awk '{ printf "%.0f", ($1 + $2) * 1000 }' "$T/curl.time") $(calc '%.0f' "$_c1 - $_c0") $(( $1 - _f0 )) $(( $2 - _r0 ))"
}
for m in new reuse; do
	log "tls: curl, $TSEQ connections one after another, TLS 1.3, session cache $m"
	set -- $(curlseq $m)
	K=$(echo "$m" | tr 'a-z' 'A-Z')
	cms=$(calc '%.3f' "$2 / $TSEQ"); sms=$(calc '%.3f' "$3 / $TSEQ")
	rate=$(calc '%.0f' "$TSEQ / ($1 / 1000)")
	bench_var "TLS_CURL_${K}_CMS" "$cms"; bench_var "TLS_CURL_${K}_SMS" "$sms"
	bench_var "TLS_CURL_${K}_RATE" "$rate"
	raw="$raw
| curl, TLS 1.3, $([ $m = new ] && echo '--no-sessionid (full)' || echo 'session cache (resumed)'), with an HTTP request each | $TSEQ | $rate | $cms | $sms | $4 / $5 |"
done
bench_var TLS_TABLE_RAW "$raw"

# ---- (b) the worker's drain, TLS vs plain ----------------------------
# drain KIND URL CA: prints "requests connects full resumed cpu_ms wall_s done 429s"
drain() {
	_d=$T/$1; mkdir -p "$_d"
	curl -sf -X POST "$SIM_CTL/_sim/reset" >/dev/null || { echo "tls: /_sim/reset failed" >&2; exit 1; }
	SIM_URL=$2 write_conf "$_d/c.conf" "$_d/o.db" "ca_file = $3"
	"$BIN/callsync" --db "$_d/o.db" init >/dev/null 2>&1
	gen_calls "$TN" $((TN / 3)) t >"$_d/recs.jsonl"
	"$BIN/callsync" --db "$_d/o.db" enqueue --workspace acme \
	    "$_d/recs.jsonl" >/dev/null 2>&1
	set -- $(hs); _f0=$1 _r0=$2
	_r0q=$(sim_total); _t0=$(now_ms)
	strace -f -c -e trace=connect --seccomp-bpf -o "$_d/strace.txt" \
	    "$BIN/callsyncd" --config "$_d/c.conf" -d 2>"$_d/worker.log" &
	_w=$!
	PIDS="$PIDS $_w"
	_c=""
	while :; do
		sleep 0.5
		[ -z "$_c" ] && _c=$(pgrep -x -P "$_w" callsyncd | head -1)
		[ -n "$_c" ] && _cpu=$(cpu_ms "$_c")
		_n=$(dbq "$_d/o.db" "SELECT count(*) FROM outbox WHERE state IN ('done', 'dead')")
		_now=$(now_ms)
		[ "$_n" -ge "$TN" ] && break
		[ $((_now - _t0)) -gt $((TMAX * 1000)) ] && break
	done
	_t1=$(now_ms)
	[ -n "$_c" ] && _cpu=$(cpu_ms "$_c")
	_r1q=$(sim_total); _q=$(sim_429)
	[ -n "$_c" ] && kill -TERM "$_c"
	wait "$_w" 2>/dev/null
	set -- $(hs)
	_cn=$(awk '$NF == "connect" { print $4 }' "$_d/strace.txt")
	echo "$((_r1q - _r0q)) ${_cn:-0} $(( $1 - _f0 )) $(( $2 - _r0 )) ${_cpu:-0} $(calc '%.1f' "($_t1 - $_t0) / 1000") $_n $_q"
}
# The system's CA bundle (what a workspace without ca_file verifies
# against) with the test CA appended: libcurl reads the whole file for
# every connection unless it may cache the store (see http.c).
BUNDLE=${BENCH_TLS_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
if [ -f "$BUNDLE" ]; then
	cat "$BUNDLE" "$T/ca.pem" >"$T/bundle.pem"
else
	cp "$T/ca.pem" "$T/bundle.pem"
fi
NB=$(grep -c 'BEGIN CERTIFICATE' "$T/bundle.pem")
bench_var TLSD_NB "$NB"
log "tls: worker drain, $TN records, plain HTTP"
set -- $(drain plain "$SIM_URL" "$T/ca.pem")
P_REQ=$1 P_CONN=$2 P_CPU=$5 P_S=$6 P_DONE=$7 P_429=$8
log "tls: worker drain, $TN records, TLS"
set -- $(drain tls "$TLS_URL" "$T/ca.pem")
S_REQ=$1 S_CONN=$2 S_FULL=$3 S_RES=$4 S_CPU=$5 S_S=$6 S_DONE=$7 S_429=$8
log "tls: worker drain, $TN records, TLS, ca_file of $NB certificates"
set -- $(drain bundle "$TLS_URL" "$T/bundle.pem")
B_REQ=$1 B_CONN=$2 B_FULL=$3 B_RES=$4 B_CPU=$5 B_S=$6 B_DONE=$7 B_429=$8
P_MS=$(calc '%.3f' "$P_CPU / ($P_REQ > 0 ? $P_REQ : 1)")
S_MS=$(calc '%.3f' "$S_CPU / ($S_REQ > 0 ? $S_REQ : 1)")
B_MS=$(calc '%.3f' "$B_CPU / ($B_REQ > 0 ? $B_REQ : 1)")
for v in P_REQ P_CONN P_CPU P_S P_DONE P_429 P_MS S_REQ S_CONN S_FULL S_RES S_CPU S_S S_DONE S_429 S_MS B_REQ B_CONN B_FULL B_RES B_CPU B_S B_DONE B_429 B_MS; do
	eval "bench_var TLSD_$v \"\$$v\""
done
bench_var TLSD_X_BCPU "$(calc '%.2f' "$B_MS / ($P_MS > 0 ? $P_MS : 1)")"
bench_var TLSD_X_CPU "$(calc '%.2f' "$S_MS / ($P_MS > 0 ? $P_MS : 1)")"
bench_var TLSD_X_WALL "$(calc '%.2f' "$S_S / ($P_S > 0 ? $P_S : 1)")"
drain="| $TN records, 150 ms, 10,000/min | requests | connections opened | full / resumed handshakes | worker CPU | CPU per request | wall time | records done | 429s |
|---|---|---|---|---|---|---|---|---|
| plain HTTP | $P_REQ | $P_CONN | - | $P_CPU ms | $P_MS ms | $P_S s | $P_DONE | $P_429 |
| TLS (stunnel, P-256, TLS 1.3) | $S_REQ | $S_CONN | $S_FULL / $S_RES | $S_CPU ms | $S_MS ms | $S_S s | $S_DONE | $S_429 |
| TLS, ca_file of $NB certificates (the system's bundle) | $B_REQ | $B_CONN | $B_FULL / $B_RES | $B_CPU ms | $B_MS ms | $B_S s | $B_DONE | $B_429 |
| TLS / plain | $(calc '%.2f' "$S_REQ / ($P_REQ > 0 ? $P_REQ : 1)") | $(calc '%.2f' "$S_CONN / ($P_CONN > 0 ? $P_CONN : 1)") | | $(calc '%.2f' "$S_CPU / ($P_CPU > 0 ? $P_CPU : 1)") | **$(calc '%.2f' "$S_MS / ($P_MS > 0 ? $P_MS : 1)")** | $(calc '%.2f' "$S_S / ($P_S > 0 ? $P_S : 1)") | | |
| TLS with the $NB-certificate bundle / plain | $(calc '%.2f' "$B_REQ / ($P_REQ > 0 ? $P_REQ : 1)") | $(calc '%.2f' "$B_CONN / ($P_CONN > 0 ? $P_CONN : 1)") | | $(calc '%.2f' "$B_CPU / ($P_CPU > 0 ? $P_CPU : 1)") | **$(calc '%.2f' "$B_MS / ($P_MS > 0 ? $P_MS : 1)")** | $(calc '%.2f' "$B_S / ($P_S > 0 ? $P_S : 1)") | | |"
bench_var TLS_TABLE_DRAIN "$drain"
printf '%s\n\n%s\n' "$raw" "$drain"
