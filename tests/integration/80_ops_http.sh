#!/bin/sh
# 80_ops_http: the operations endpoint on [worker] listen.
#   a. a non-loopback listen is refused at start (one line, exit 1) unless
#      listen_token_file names a 0600 token file (listen_public alone no
#      longer suffices; test 90 covers the token itself);
#   b. /livez, /healthz, /metrics answer during a faulty drain; the metrics
#      pass promtool check metrics and carry the documented names;
#   c. /healthz turns 503 naming the breaker when Intercom is down and
#      naming the pause when the token is revoked, 200 again after;
#   d. only GET on the three paths: 404, 405; a 1 MiB request is refused;
#      no answer carries the token;
#   e. contrib rules pass promtool check rules; the dashboard's queries
#      use only exported metrics;
#   f. a real Prometheus scrapes the worker once (skipped if absent).
. "$(dirname "$0")/lib.sh"
t_setup
have() { command -v "$1" >/dev/null 2>&1; }
CSD="$BIN/callsyncd"
if [ "$CALLSYNC_PROFILE" = soak ]; then N=600; else N=100; fi

sim_start --seed 80 --latency 20 --p-5xx 0.1 --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1

# ---------------------------------------------------------------- (a)
write_conf
sed -i 's/^\[worker\]$/[worker]\nlisten = 0.0.0.0:9464/' "$T/callsync.conf"
timeout 20 "$CSD" --config "$T/callsync.conf" --drain >"$T/pub.out" 2>"$T/pub.err"
is "non-loopback listen: the worker refuses to start (exit 1)" "$?" 1
is "non-loopback listen: one error line" "$(wc -l <"$T/pub.err")" 1
check "the line names the key, the file and listen_token_file" \
    grep -q "callsync.conf:[0-9]*: \[worker\] listen: 0.0.0.0 is not a loopback address.*listen_token_file" "$T/pub.err"
"$CSD" --config "$T/callsync.conf" -n >/dev/null 2>&1
is "callsyncd -n refuses it too" "$?" 1
sed -i 's/^\[worker\]$/[worker]\nlisten_public = true/' "$T/callsync.conf"
"$CSD" --config "$T/callsync.conf" -n >/dev/null 2>"$T/pub2.err"
is "listen_public = true alone no longer accepts it (callsyncd -n)" "$?" 1
printf 'local-api-secret-80\n' >"$T/listen.token"; chmod 600 "$T/listen.token"
sed -i "s|^\[worker\]\$|[worker]\nlisten_token_file = $T/listen.token|" "$T/callsync.conf"
"$CSD" --config "$T/callsync.conf" -n >/dev/null 2>"$T/pub3.err"
is "listen_token_file accepts it (callsyncd -n)" "$?" 0

# ---------------------------------------------------------------- (b)
# A free port: a random one, retried when taken (the worker exits 1 with
# "cannot listen"); bounded.
live() { curl -sf -m 2 "$H/livez" >/dev/null; }
start_worker() {
	write_conf "max_attempts = 5
search_lag = 3"
	sed -i "s/^\[worker\]\$/[worker]\nhealth_max_age = 10m/" "$T/callsync.conf"
	listen_start "$T/callsync.conf" "$T/w.log" -v
}
gen_calls $N $((N / 3)) ops >"$T/calls.jsonl"
start_worker
check "the worker serves on a free loopback port" [ $? -eq 0 ]
diag "listen = 127.0.0.1:$PORT"
enqueue_sql "$T/calls.jsonl"
code() { curl -s -m 5 -o "$T/body" -w '%{http_code}' "$@"; }
answers=0
keep() { answers=$((answers + 1)); cp "$T/body" "$T/ans.$answers"; }
is "GET /livez: 200" "$(code "$H/livez")" 200; keep
is "GET /livez: ok" "$(cat "$T/body")" ok
# During the drain (5xx faults: retries, 5xx counted).
sql_ge() { [ "$(sql "$1")" -ge "$2" ]; }
wait_for "some deliveries" 30 sql_ge "SELECT count(*) FROM outbox WHERE state='done'" 10
is "GET /metrics during the drain: 200" "$(code "$H/metrics")" 200; keep
cp "$T/body" "$T/metrics.mid"
if have promtool; then
	promtool check metrics <"$T/metrics.mid" >"$T/pc.out" 2>&1
	is "promtool check metrics: no problem (during the drain)" "$?" 0
	sed 's/^/# /' "$T/pc.out" | head -5
else
	ok "# SKIP promtool absent (Debian package prometheus)"
fi
is "GET /healthz while delivering: 200" "$(code "$H/healthz")" 200; keep
is "/healthz is JSON with status ok" "$(jq -r .status "$T/body")" ok
drained() { [ "$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')")" -eq 0 ]; }
wait_for "the drain to finish" 90 drained
check "the faulty drain finished" [ $? -eq 0 ]
# The counts are cached for a second: poll for the final numbers.
ndone=$(sql "SELECT count(*) FROM outbox WHERE state='done'")
mval() { awk -v m="$1" '$1 == m { print $2 }' "$T/body"; }
metrics_done() { code "$H/metrics" >/dev/null && [ "$(mval 'callsync_delivered_total{workspace="acme"}')" = "$ndone" ] && [ "$(mval 'callsync_records_pending{workspace="acme"}')" = 0 ]; }
wait_for "metrics to show the drain" 5 metrics_done
check "callsync_delivered_total equals the delivered rows ($ndone)" [ $? -eq 0 ]
keep
cp "$T/body" "$T/metrics.end"
if have promtool; then
	promtool check metrics <"$T/metrics.end" >"$T/pc.out" 2>&1
	is "promtool check metrics: no problem (after the drain)" "$?" 0
fi
# The documented metrics: every callsync_* name in the /metrics part of
# the operations guide ("`callsync_records_pending`, `_inflight`" expands
# the short forms with the previous name's first two words).
documented=$(awk '/^`\/metrics` is Prometheus text/ {on = 1} on && /^A scrape job/ {on = 0} on' \
    "$ROOT/docs/operations.md" | grep -o '`_*[a-z_]*\({[a-z_,]*}\)\{0,1\}`' | tr -d '`' | sed 's/{.*//' | awk '
	/^callsync_/ { split($0, w, "_"); base = w[1] "_" w[2]; print; next }
	/^_/ && base != "" { print base $0 }')
ndoc=$(echo "$documented" | grep -c .)
check "the operations guide documents metrics ($ndoc found)" [ "$ndoc" -ge 20 ]
missing=0
for m in $documented; do
	grep -q "^# TYPE $m " "$T/metrics.end" || { echo "# metric $m has no TYPE line"; missing=$((missing + 1)); }
done
is "every documented metric has a TYPE line (missing ones above)" "$missing" 0
check "5xx answers are counted by endpoint and class" \
    grep -q '^callsync_requests_total{workspace="acme",method="POST",endpoint="/conversations",status_class="5xx"} [1-9]' "$T/metrics.end"
check "retries are counted by class" grep -q '^callsync_retries_total{workspace="acme",class="transient"} [1-9]' "$T/metrics.end"
is "delivery latency histogram counts every delivery" \
    "$(mval 'callsync_delivery_latency_seconds_count{workspace="acme"}')" "$ndone"
check "request latency histogram has observations" \
    [ "$(mval 'callsync_request_duration_seconds_count{workspace="acme"}')" -gt "$ndone" ]
is "callsync_records_dead matches the database" \
    "$(mval 'callsync_records_dead{workspace="acme"}')" \
    "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")"
check "no metric series carries a record key or phone number" \
    sh -c "! grep -E 'ops[0-9]|\\+1[0-9]{6}' '$T/metrics.end'"

# ---------------------------------------------------------------- (c)
hz() { code "$H/healthz" >/dev/null; }
hz_is() { [ "$(code "$H/healthz")" = "$1" ] && grep -q "$2" "$T/body"; }
gen_calls 20 5 down >"$T/down.jsonl"
sim_ctl '{"down":"refuse"}'
enqueue_sql "$T/down.jsonl"
wait_for "/healthz 503 breaker" 30 hz_is 503 '"problem":"breaker_open"'
check "Intercom down: /healthz 503 naming the open breaker" [ $? -eq 0 ]
keep; diag "$(cat "$T/body")"
is "/healthz body says fail" "$(jq -r .status "$T/body")" fail
is "/healthz names the workspace" "$(jq -r '.problems[0].workspace' "$T/body")" acme
code "$H/metrics" >/dev/null; keep
is "callsync_breaker_open is 1" "$(mval 'callsync_breaker_open{workspace="acme"}')" 1
sim_ctl '{"down":null}'
wait_for "/healthz 200 again" 40 hz_is 200 '"status":"ok"'
check "Intercom back: /healthz 200" [ $? -eq 0 ]
sim_ctl '{"token_revoked":true}'
gen_calls 5 5 rev >"$T/rev.jsonl"
enqueue_sql "$T/rev.jsonl"
wait_for "/healthz 503 paused" 30 hz_is 503 '"problem":"paused"'
check "token revoked: /healthz 503 naming the pause" [ $? -eq 0 ]
keep; diag "$(cat "$T/body")"
code "$H/metrics" >/dev/null; keep
is "callsync_paused is 1" "$(mval 'callsync_paused{workspace="acme"}')" 1
sim_ctl '{"token_revoked":false}'
touch "$T/acme.token"
wait_for "/healthz 200 after the token is back" 30 hz_is 200 '"status":"ok"'
check "token restored: /healthz 200" [ $? -eq 0 ]

# ---------------------------------------------------------------- (d)
is "unknown path: 404" "$(code "$H/v1/nothing")" 404; keep
# The 404 names what is served, from the route table: the server's own
# paths and those the context and task modules routed to it.
is "...naming every route" "$(cat "$T/body")" \
    "not found: this endpoint serves /livez, /healthz, /metrics, /ui, /v1/context, /v1/articles and /v1/tasks/..."
is "a path under a prefix route is the module's: /v1/tasks/x 404 from tasks" \
    "$(code "$H/v1/tasks/x"; printf ' '; jq -r .error "$T/body" 2>/dev/null)" "404 no such task"
is "a path that only starts like a route: /v1/tasksx 404" "$(code "$H/v1/tasksx")" 404
is "path with a query on /metricsx: 404" "$(code "$H/metricsx?a=b")" 404; keep
is "POST /metrics: 405" "$(code -X POST -d x "$H/metrics")" 405; keep
is "DELETE /healthz: 405" "$(code -X DELETE "$H/healthz")" 405; keep
head -c 1048576 /dev/zero | tr '\0' a >"$T/big"
c=$(code -X GET --data-binary @"$T/big" "$H/metrics")
# Refused: an error status, or the connection closed before curl could
# send it all (000).
refused() { case $1 in 400|413|431|000) return 0 ;; *) return 1 ;; esac; }
check "a 1 MiB request body is refused ($c)" refused "$c"
{ printf 'X-Big: '; cat "$T/big"; echo; } >"$T/bighdr"
c=$(code -H @"$T/bighdr" "$H/livez")
check "a 1 MiB request header is refused ($c)" refused "$c"
check "the worker still answers after them" live
# no token in any answer (bodies kept above, and the headers of each path)
for p in livez healthz metrics nothing; do
	curl -s -m 5 -i "$H/$p" >"$T/ans.h$p"
done
check "no answer carries the token" sh -c "! grep -l -F '$SIM_TOKEN' $T/ans.*"
check "the worker log carries no token" sh -c "! grep -q -F '$SIM_TOKEN' '$T/w.log'"

# ---------------------------------------------------------------- (e)
if have promtool; then
	promtool check rules contrib/prometheus/callsync.rules.yml >"$T/pr.out" 2>&1
	is "promtool check rules contrib/prometheus/callsync.rules.yml" "$?" 0
	sed 's/^/# /' "$T/pr.out"
else
	ok "# SKIP promtool absent (Debian package prometheus)"
fi
check "the Grafana dashboard is JSON" sh -c "jq -e '.panels | length > 0' contrib/grafana/callsync.json >/dev/null"
grep -o 'callsync_[a-z_]*' contrib/grafana/callsync.json contrib/prometheus/callsync.rules.yml |
    cut -d: -f2 | sed 's/_\(bucket\|sum\|count\)$//' | sort -u >"$T/used"
missing=$(while read -r m; do grep -q "^# TYPE $m " "$T/metrics.end" || echo "$m"; done <"$T/used")
is "dashboard and rules use only exported metrics" "$missing" ""

# ---------------------------------------------------------------- (f)
if have prometheus; then
	cat >"$T/prom.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $ROOT/contrib/prometheus/callsync.rules.yml
scrape_configs:
  - job_name: callsync
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
	# A random port may be taken; Prometheus then exits and we try another.
	tries=0
	while [ $tries -lt 5 ]; do
		tries=$((tries + 1)); PP=$(rport)
		prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/tsdb" \
		    --web.listen-address="127.0.0.1:$PP" >"$T/prom.log" 2>&1 &
		PPID_=$!
		prom_ready() { kill -0 $PPID_ && curl -sf -m 2 "http://127.0.0.1:$PP/-/ready" >/dev/null; }
		prom_waiting() { ! kill -0 $PPID_ || prom_ready; }
		wait_for "Prometheus to start" 60 prom_waiting
		prom_ready && break
		diag "Prometheus on port $PP did not start (try $tries):"
		tail -5 "$T/prom.log" | sed 's/^/#   /'
		kill $PPID_ 2>/dev/null; wait $PPID_ 2>/dev/null
	done
	PIDS="$PIDS $PPID_"
	q() { curl -sf -m 2 -G "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1"; }
	scraped() { [ "$(q 'up{job="callsync"}' | jq -r '.data.result[0].value[1]')" = 1 ]; }
	wait_for "Prometheus to scrape the worker" 60 scraped
	if [ $? -eq 0 ]; then ok "Prometheus scraped the worker (up == 1)"
	else
		not_ok "Prometheus scraped the worker (up == 1)"
		tail -5 "$T/prom.log" | sed 's/^/# /'
		q 'up' | sed 's/^/# up: /'
	fi
	is "Prometheus sees callsync_delivered_total" \
	    "$(q 'callsync_delivered_total{workspace="acme"} > 0' | jq -r '.data.result | length')" 1
	rules_ok() { [ "$(curl -sf -m 2 "http://127.0.0.1:$PP/api/v1/rules" | jq '[.data.groups[].rules[] | select(.health=="ok")] | length')" -ge 6 ]; }
	wait_for "the alert rules to evaluate" 30 rules_ok
	check "Prometheus loaded and evaluated the contrib rules" [ $? -eq 0 ]
	kill $PPID_ 2>/dev/null; wait $PPID_ 2>/dev/null
else
	ok "# SKIP prometheus binary absent (Debian package prometheus): no real scrape"
fi

kill -TERM $WPID; wait $WPID
is "worker exits 0 on SIGTERM with the endpoint open" "$?" 0
check "the worker logged where it serves" grep -q "serving /livez, /healthz, /metrics, /ui, /v1/context and /v1/articles on 127.0.0.1:$PORT" "$T/w.log"
