#!/bin/sh
# bench/webhook.sh: webhook acknowledgement times (issue 22).
#
#   sh bench/webhook.sh              prints the figures
#   BENCH_VARS=FILE sh bench/webhook.sh  also appends them to FILE as
#                                    KEY<TAB>VALUE (bench/run.sh, section
#                                    11, renders them)
#
# The simulator asks for N call backs at once (POST /_sim/webhook_burst:
# N customers tag their conversation), each notification delivered 3
# times in shuffled order by 8 senders, signed, to the worker's receiver
# (webhook_listen).  Twice, in one run each: the worker idle, then while
# it drains a backlog of B records at Intercom's rate (the simulator
# limits to 10,000 requests a minute).  Per run: the simulator's answer
# times (p50, p99, max) as Intercom would see them, 429s (back-pressure),
# tasks made, and in the second run the records delivered per minute
# while the burst ran against the same worker.
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
. bench/lib.sh
N=${BENCH_WH_N:-2000}
B=${BENCH_WH_BACKLOG:-1200}
for b in callsyncd callsync intercom-sim; do
	[ -x "$BIN/$b" ] || { echo "webhook: $BIN/$b missing: run make" >&2; exit 1; }
done
b_setup
rport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# run KEY BACKLOG: one burst.
run() {
	k=$1 nb=$2
	D=$T/wh$k; mkdir -p "$D"
	sim_start "wh$k" --seed 37 --rate-limit 10000 || exit 1
	printf 'bench-secret\n' >"$D/secret"; chmod 600 "$D/secret"
	WP=$(rport)
	write_conf "$D/c.conf" "$D/o.db" "webhook_secret_file = $D/secret
callback_tag = callback"
	sed -i "s/^\[worker\]\$/[worker]\nwebhook_listen = 127.0.0.1:$WP/" "$D/c.conf"
	"$BIN/callsync" --db "$D/o.db" init >/dev/null 2>&1
	"$BIN/callsyncd" --config "$D/c.conf" -d 2>"$D/worker.log" &
	wp=$!
	PIDS="$PIDS $wp"
	i=0
	until [ -n "$(dbq "$D/o.db" "SELECT app_id FROM workspace_app" 2>/dev/null)" ]; do
		i=$((i + 1)); [ $i -gt 400 ] && { echo "webhook: worker not ready" >&2; exit 1; }
		sleep 0.05
	done
	[ "$nb" -gt 0 ] && bulk_backlog "$D/o.db" "$nb" "w$k"
	curl -sf -X POST -d "{\"url\":\"http://127.0.0.1:$WP/v1/intercom/webhook\",\"secret\":\"bench-secret\",\"copies\":3,\"shuffle\":true}" \
	    "$SIM_CTL/_sim/webhooks" >/dev/null || exit 1
	d0=$(dbq "$D/o.db" "SELECT count(*) FROM outbox WHERE state = 'done'")
	t0=$(now_ms)
	curl -sf -m 300 -X POST -d "{\"n\":$N,\"tag\":\"callback\"}" "$SIM_CTL/_sim/webhook_burst" >/dev/null
	while curl -sf "$SIM_CTL/_sim/webhooks" >"$D/wh.json" &&
	    [ "$(jq '.queued + .inflight' "$D/wh.json")" -gt 0 ] &&
	    [ $(( $(now_ms) - t0 )) -lt 600000 ]; do
		sleep 0.2
	done
	t1=$(now_ms)
	d1=$(dbq "$D/o.db" "SELECT count(*) FROM outbox WHERE state = 'done'")
	tasks=$(dbq "$D/o.db" "SELECT count(*) FROM tasks")
	kill -TERM $wp; wait $wp 2>/dev/null
	sim_stop
	bench_var WH${k}_P50 "$(jq .answer_ms.p50 "$D/wh.json") ms"
	bench_var WH${k}_P99 "$(jq .answer_ms.p99 "$D/wh.json") ms"
	bench_var WH${k}_MAX "$(jq .answer_ms.max "$D/wh.json") ms"
	bench_var WH${k}_429 "$(jq '.answers["4xx"]' "$D/wh.json")"
	bench_var WH${k}_TIME "$(calc '%.1f' "($t1 - $t0) / 1000") s"
	bench_var WH${k}_TASKS "$tasks of $N"
	if [ "$nb" -gt 0 ]; then
		bench_var WH${k}_DRAIN "$((d1 - d0)) records, $(calc '%.0f' "($d1 - $d0) * 60000 / ($t1 - $t0)") a minute"
	else
		bench_var WH${k}_DRAIN "none (idle)"
	fi
	eval "P99_$k=\$(jq .answer_ms.p99 \"\$D/wh.json\")"
}
run 0 0
run 1 "$B"
bench_var WH_N "$N notifications x 3 copies"
bench_var WH_RATIO "$(calc '%.2f' "$P99_1 / ($P99_0 > 0 ? $P99_0 : 1)")"
