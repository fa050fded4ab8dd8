# bench/context.sh: section 7 of bench/run.sh (sourced; needs bench/lib.sh
# and run.sh's put): GET /v1/context latency (issue 16) from the cache,
# live against the simulator at 150 ms, and during an outage.
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
bench_context() {
	CTX_N=${BENCH_CTX_N:-300}
	sim_start ctx || return 1
	write_conf "$T/ctx.conf" "$T/ctx.db"
	CTX_PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
	CTX_H="http://127.0.0.1:$CTX_PORT"
	sed -i "s/^\[worker\]\$/[worker]\nlisten = 127.0.0.1:$CTX_PORT/" "$T/ctx.conf"
	"$BIN/callsyncd" --config "$T/ctx.conf" -d 2>"$T/ctx.log" &
	CTX_PID=$!
	PIDS="$PIDS $CTX_PID"
	_i=0
	until curl -sf "$CTX_H/healthz" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ $_i -gt 100 ] && { log "context: worker did not start"; return 1; }
		sleep 0.1
	done
	# A caller with three conversations, a ticket and a company.
	_a=$(curl -sf -X POST -d '{"role":"user","phone":"+15550001111","email":"ada@example.com","name":"Ada"}' "$SIM_CTL/_sim/contacts" | jq -r .id)
	for _s in open closed open; do
		curl -sf -X POST -d "{\"contact_ids\":[\"$_a\"],\"body\":\"<p>question</p>\",\"state\":\"$_s\"}" "$SIM_CTL/_sim/conversations" >/dev/null
	done
	curl -sf -X POST -d "{\"contact_ids\":[\"$_a\"],\"state\":\"in_progress\",\"ticket_attributes\":{\"_default_title_\":\"Invoice\"}}" "$SIM_CTL/_sim/tickets" >/dev/null
	curl -sf -X POST -d "{\"name\":\"Adaco\",\"plan\":\"Pro\",\"monthly_spend\":250,\"contact_ids\":[\"$_a\"]}" "$SIM_CTL/_sim/companies" >/dev/null
	ctx_run 1 "$T/ctx.warm"		# searched once: the lookup is cached

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
	kill "$CTX_PID" 2>/dev/null; wait "$CTX_PID" 2>/dev/null
	sim_stop
}
