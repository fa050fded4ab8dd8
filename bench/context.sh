# bench/context.sh: section 7 of bench/run.sh (sourced; needs bench/lib.sh
# and run.sh's put): GET /v1/context latency (issue 16) from the cache,
# live against the simulator at 150 ms, during an outage, and live while
# a 10k backlog drains at the rate limit (with the drain's share), and
# the warm-up (context_warm) during and after a backlog.
#
# Each figure is taken with one curl process fetching BENCH_CTX_N URLs
# over one kept-alive connection (curl's own time_total per request), so
# process start-up is not measured; p50/p99 are nearest-rank.
#
# bench_context: the whole section.
ctx_pct() {	# ctx_pct FILE P: nearest-rank percentile of ms values
	sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
		if (NR == 0) { print "n/a"; exit }
		i = int((p * NR + 99) / 100); if (i < 1) i = 1; if (i > NR) i = NR
		printf "%.2f\n", v[i] }'
}
# ctx_run N OUT [curl args]: N requests for the seeded caller; ms per line.
ctx_run() {
	_n=$1 _out=$2; shift 2
	_u="$CTX_H/v1/context?workspace=acme&phone=%2B15550001111"
	_args=""
	_i=0
	while [ $_i -lt "$_n" ]; do _args="$_args $_u"; _i=$((_i + 1)); done
	# shellcheck disable=SC2086
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$@" $_args |
	    awk '$1 == 200 { printf "%.3f\n", $2 * 1000 } $1 != 200 { bad++ }
		END { if (bad) print "bench: " bad " non-200 answers" > "/dev/stderr" }' >"$_out"
}
# ctx_start NAME [sim flags]: a simulator, a worker serving listen, and
# one caller with three conversations, an open ticket and a company.
ctx_start() {
	sim_start "$@" || return 1
	write_conf "$T/$1.conf" "$T/$1.db"
	CTX_PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
	CTX_H="http://127.0.0.1:$CTX_PORT"
	sed -i "s/^\[worker\]\$/[worker]\nlisten = 127.0.0.1:$CTX_PORT/" "$T/$1.conf"
	# CTX_WORKER: more [worker] lines ("\n" between them).
	[ -z "${CTX_WORKER:-}" ] ||
	    sed -i "s/^\[worker\]\$/[worker]\n$CTX_WORKER/" "$T/$1.conf"
	"$BIN/callsync" --db "$T/$1.db" init >/dev/null 2>&1
	"$BIN/callsyncd" --config "$T/$1.conf" -d 2>"$T/$1.log" &
	CTX_PID=$!
	PIDS="$PIDS $CTX_PID"
	_i=0		# booted: GET /me, attributes and tags answered
	until ctx_booted; do
		_i=$((_i + 1))
		[ $_i -gt 200 ] && { log "context: worker did not start"; return 1; }
		sleep 0.1
	done
	_a=$(curl -sf -X POST -d '{"role":"user","phone":"+15550001111","email":"ada@example.com","name":"Ada"}' "$SIM_CTL/_sim/contacts" | jq -r .id)
	for _s in open closed open; do
		curl -sf -X POST -d "{\"contact_ids\":[\"$_a\"],\"body\":\"<p>question</p>\",\"state\":\"$_s\"}" "$SIM_CTL/_sim/conversations" >/dev/null
	done
	curl -sf -X POST -d "{\"contact_ids\":[\"$_a\"],\"state\":\"in_progress\",\"ticket_attributes\":{\"_default_title_\":\"Invoice\"}}" "$SIM_CTL/_sim/tickets" >/dev/null
	curl -sf -X POST -d "{\"name\":\"Adaco\",\"plan\":\"Pro\",\"monthly_spend\":250,\"contact_ids\":[\"$_a\"]}" "$SIM_CTL/_sim/companies" >/dev/null
	ctx_run 1 "$T/ctx.warm"		# searched once: the lookup is cached
}
# ctx_booted: the worker answers and its workspace has booted (jq alone
# would take an empty answer for a yes).
ctx_booted() {
	_h=$(curl -s -m 2 "$CTX_H/healthz" 2>/dev/null) && [ -n "$_h" ] &&
	    printf '%s' "$_h" | jq -e '.workspaces.acme.state != "starting"' \
	    >/dev/null 2>&1
}
ctx_stop() { kill "$CTX_PID" 2>/dev/null; wait "$CTX_PID" 2>/dev/null; sim_stop; }
# ctx_sent CLASS: requests of CLASS the worker has sent (its /metrics).
ctx_sent() {
	curl -sf "$CTX_H/metrics" | sed -n "s/^callsync_requests_sent_total{workspace=\"acme\",class=\"$1\"} //p"
}

# The contention run: 1000 requests/min at the simulator (150 ms each),
# live contexts idle, then one every BENCH_CTX_EVERY s (5) for
# BENCH_CTX_SECS s (60) while a 10k backlog drains.
bench_contention() {
	_every=${BENCH_CTX_EVERY:-5} _secs=${BENCH_CTX_SECS:-60}
	ctx_start ctxrl --rate-limit 1000 --latency 150 || return 1
	# Paced (one every 2 s): back to back, 12 contexts of 7 reads would
	# pass context_share (50 %) of a 166-request window and wait for the
	# next one, by design.
	log "contention: idle live contexts at 150 ms, one every 2 s"
	: >"$T/ctx.idle"
	for _i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		ctx_run 1 "$T/ctx.one"; cat "$T/ctx.one" >>"$T/ctx.idle"
		sleep 2
	done
	log "contention: 10k backlog, warm-up 15 s, then ${_secs} s with a context every ${_every} s"
	bulk_backlog "$T/ctxrl.db" 10000 cb
	sleep 15			# the drain reaches its pace
	_d0=$(ctx_sent drain) _c0=$(ctx_sent context) _t0=$(now_ms)
	: >"$T/ctx.busy"
	_end=$((_t0 + _secs * 1000))
	while [ "$(now_ms)" -lt $_end ]; do
		ctx_run 1 "$T/ctx.one"; cat "$T/ctx.one" >>"$T/ctx.busy"
		sleep "$_every"
	done
	_d1=$(ctx_sent drain) _c1=$(ctx_sent context) _t1=$(now_ms)
	_rpm=$(calc '%.0f' "($_d1 - $_d0) * 60000 / ($_t1 - $_t0)")
	put CTX_RL_IDLE_99 "$(ctx_pct "$T/ctx.idle" 99)"
	put CTX_RL_BUSY_N "$(wc -l <"$T/ctx.busy")"
	put CTX_RL_BUSY_99 "$(ctx_pct "$T/ctx.busy" 99)"
	put CTX_RL_RATIO "$(calc '%.2f' "$(ctx_pct "$T/ctx.busy" 99) / $(ctx_pct "$T/ctx.idle" 99)")"
	put CTX_RL_DRAIN_RPM "$_rpm"
	put CTX_RL_DRAIN_FRAC "$(calc '%.3f' "$_rpm / 1000")"
	put CTX_RL_READS_RPM "$(calc '%.0f' "($_c1 - $_c0) * 60000 / ($_t1 - $_t0)")"
	put CTX_RL_429 "$(sim_429)"
	ctx_stop
}

# The warm-up run (context_warm = 20, context_warm_share = 20, the most
# allowed), 1000 requests/min at 150 ms: the drain's rate and the warm
# reads while a 300-record backlog drains (45 s after 10 s), then how
# long until the last 20 callers' contexts are all fresh once it has
# drained, and the most warm reads the simulator saw in any 10 s.
bench_warm() {
	CTX_WORKER='context_warm = 20\ncontext_warm_share = 20' \
	    ctx_start ctxwm --rate-limit 1000 --latency 150 || return 1
	log "warm-up: 300-record backlog, 45 s measured after 10 s"
	bulk_backlog "$T/ctxwm.db" 300 wm
	sleep 10
	_d0=$(ctx_sent drain) _w0=$(ctx_sent warm) _t0=$(now_ms)
	sleep 45
	_d1=$(ctx_sent drain) _w1=$(ctx_sent warm) _t1=$(now_ms)
	_rpm=$(calc '%.0f' "($_d1 - $_d0) * 60000 / ($_t1 - $_t0)")
	put CTX_WM_DRAIN_RPM "$_rpm"
	put CTX_WM_DRAIN_FRAC "$(calc '%.3f' "$_rpm / 1000")"
	put CTX_WM_BUSY_RPM "$(calc '%.0f' "($_w1 - $_w0) * 60000 / ($_t1 - $_t0)")"
	wait_until 600 sh -c "[ \$(sqlite3 '$T/ctxwm.db' \"SELECT count(*) FROM outbox WHERE state = 'done'\") -eq 300 ]" ||
	    log "warm-up: the backlog did not drain"
	_t0=$(now_ms)
	_q="SELECT count(*) FROM (SELECT j.intercom_id AS id FROM outbox o JOIN journal j ON j.outbox_id = o.id AND j.step = 'contact' ORDER BY o.id DESC LIMIT 20) r JOIN context_cache c ON c.contact_id = r.id AND min(coalesce(c.contact_at, 0), coalesce(c.conversations_at, 0), coalesce(c.tickets_at, 0), coalesce(c.company_at, 0)) >= $((_t0 / 1000 - 300))"
	wait_until 300 sh -c "[ \$(sqlite3 '$T/ctxwm.db' \"$_q\") -ge 20 ]" ||
	    log "warm-up: the last 20 callers were not all warmed"
	put CTX_WM_CATCHUP_S "$(calc '%.1f' "($(now_ms) - $_t0) / 1000")"
	put CTX_WM_READS "$(ctx_sent warm)"
	put CTX_WM_MAX10 "$(sim_state | jq '[.requests.log[] | select((.method == "GET" and (.path | test("^/contacts/[^/]+(/companies)?$|^/conversations/[^/]+$"))) or (.method == "POST" and (.path == "/conversations/search" or .path == "/tickets/search"))) | .at_ms] as $a | [ $a[] as $t | [ $a[] | select(. >= $t and . < $t + 10000) ] | length ] | max // 0')"
	put CTX_WM_429 "$(sim_429)"
	ctx_stop
}

bench_context() {
	CTX_N=${BENCH_CTX_N:-300}
	ctx_start ctx || return 1

	log "context: live, simulator latency 150 ms ($((CTX_N / 5)) requests)"
	sim_ctl '{"latency_ms":150}'
	ctx_run $((CTX_N / 5)) "$T/ctx.live"
	put CTX_LIVE_N "$(wc -l <"$T/ctx.live")"
	put CTX_LIVE_50 "$(ctx_pct "$T/ctx.live" 50)"
	put CTX_LIVE_99 "$(ctx_pct "$T/ctx.live" 99)"
	put CTX_LIVE_RT "$(ctx_pct "$T/ctx.live" 50 | awk '{ printf "%.2f", $1 / 150 }')"
	sim_ctl '{"latency_ms":0}'

	log "context: outage (connections refused or reset), from its first request"
	sim_ctl '{"down":"refuse","p_reset":1}'
	ctx_run "$CTX_N" "$T/ctx.out"
	put CTX_OUT_N "$(wc -l <"$T/ctx.out")"
	put CTX_OUT_50 "$(ctx_pct "$T/ctx.out" 50)"
	put CTX_OUT_99 "$(ctx_pct "$T/ctx.out" 99)"
	put CTX_OUT_MAX "$(ctx_pct "$T/ctx.out" 100)"

	log "context: from the cache (breaker open)"
	ctx_run "$CTX_N" "$T/ctx.cache"
	put CTX_CACHE_N "$(wc -l <"$T/ctx.cache")"
	put CTX_CACHE_50 "$(ctx_pct "$T/ctx.cache" 50)"
	put CTX_CACHE_99 "$(ctx_pct "$T/ctx.cache" 99)"
	sim_ctl '{"down":null,"p_reset":0}'
	ctx_stop
	bench_contention
	bench_warm
}
