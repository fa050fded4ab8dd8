#!/bin/sh
# Robustness: signals.  (a) SIGTERM stops writing at once: no POST reaches
# Intercom after the signal; what was started is released, nothing is
# dead-lettered, and a restart finishes exactly once.  (b) a 429 answered
# in the grace period is a refund, not a dead letter.  (c) SIGHUP while
# requests are queued behind the rate limiter (run under ASan too:
# CALLSYNC_BIN=bin-asan) neither crashes nor duplicates.  (d) a reload that
# adds a workspace serves the records already waiting for it.  (e) a
# reload that changes a restart-only setting says so, one line each.
. "$(dirname "$0")/lib.sh"
t_setup
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sql_ge() { [ "$(sql "$1")" -ge "$2" ]; }
now_ms() { date +%s%3N; }
# part NAME [sim flags]: a fresh database, simulator and config.
part() {
	[ -n "${SIM_PID:-}" ] && sim_stop
	DB=$T/$1.db
	shift
	sim_start "$@" || exit 1
	write_conf ""
	"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
}
start_worker() {
	"$BIN/callsyncd" --config "$T/callsync.conf" -d -vv 2>"$T/$1.log" &
	W=$!; PIDS="$PIDS $W"
}
sim_has() { snap; st -e "$1" >/dev/null; }

# --- (a) SIGTERM: no write after the signal ------------------------------
part a --seed 731 --latency 2000
gen_calls 20 20 sa >"$T/a.jsonl"
enqueue_sql "$T/a.jsonl"
start_worker a
wait_for "the first POST /conversations" 45 sim_has '[.requests.log[]|select(.method=="POST" and .path=="/conversations")]|length > 0'
check "(a) a conversation was created before the signal" [ $? -eq 0 ]
tsig=$(now_ms)
kill -TERM $W; wait $W
is "(a) SIGTERM: exit status 0" "$?" 0
snap
late=$(st --argjson t "$tsig" '[.requests.log[]|select(.method!="GET" and .at_ms > $t + 20)]|length')
is "(a) no POST/PUT reached the simulator after SIGTERM" "$late" 0
[ "$late" -gt 0 ] && diag "after SIGTERM: $(st -r --argjson t "$tsig" '[.requests.log[]|select(.method!="GET" and .at_ms > $t + 20)|"\(.method) \(.path) +\(.at_ms - $t)ms"]|.[0:5]|join(", ")')"
is "(a) nothing dead-lettered" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
is "(a) every record done or pending (none inflight)" "$(sql "SELECT count(*) FROM outbox WHERE state NOT IN ('done','pending')")" 0
sim_ctl '{"latency_ms":0}'
drain_until_done 10 120
check "(a) a new worker drains everything" [ $? -eq 0 ]
snap
exactly_once_checks

# --- (b) 429 in the grace period --------------------------------------
part b --seed 732 --latency 1000
gen_calls 20 20 sb >"$T/b.jsonl"
enqueue_sql "$T/b.jsonl"
start_worker b
wait_for "record requests answered" 30 sim_has '[.requests.log[]|select(.path=="/contacts/search")]|length > 0'
# From now on the simulator allows one request per 10 s window: what is in
# flight is answered 429 during the grace period.
sim_ctl '{"rate_limit":6}'
tsig=$(now_ms)
kill -TERM $W; wait $W
is "(b) SIGTERM: exit status 0" "$?" 0
snap
n429=$(st --argjson t "$tsig" '[.requests.log[]|select(.status==429)]|length')
check "(b) the simulator answered 429s during the grace period ($n429)" [ "$n429" -gt 0 ]
is "(b) dead_letter table empty" "$(sql "SELECT count(*) FROM dead_letter")" 0
is "(b) nothing dead-lettered" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
is "(b) nothing left inflight" "$(sql "SELECT count(*) FROM outbox WHERE state='inflight'")" 0
is "(b) no attempt charged for a 429" "$(sql "SELECT count(*) FROM attempt_log WHERE charged=1 AND (http_status=429 OR class='rate_limited')")" 0

# --- (c) SIGHUP while requests queue behind the rate limiter ------------
part c --seed 733 --latency 20 --rate-limit 300
N=8
gen_calls $N $N sc >"$T/c.jsonl"
enqueue_sql "$T/c.jsonl"
start_worker c
i=0
while [ $i -lt 5 ]; do
	i=$((i + 1))
	# A moment that differs each time (120..920 ms): when to signal, not
	# a wait for a state; the assertions are on the end state.
	sleep "0.$(( (i * 37 % 9) + 1 ))2"
	kill -HUP $W 2>/dev/null || break
done
is "(c) five SIGHUPs delivered to a live worker" "$i" 5
wait_for "all delivered" 60 sql_is "SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')" 0
check "(c) all $N records drained after the reloads" [ $? -eq 0 ]
kill -TERM $W; wait $W
is "(c) exit status 0 after SIGTERM" "$?" 0
is "(c) five reloads logged" "$(grep -c 'SIGHUP' "$T/c.log")" 5
is "(c) no AddressSanitizer report ($BIN)" "$(grep -c 'AddressSanitizer\|runtime error:' "$T/c.log")" 0
snap
exactly_once_checks

# --- (d) a reload that adds a workspace -------------------------------
part d --seed 734
start_worker d
gen_calls 3 3 sd | sed 's/+1555000/+1555880/' >"$T/beta.jsonl"
enqueue_sql "$T/beta.jsonl" beta
gen_calls 1 1 sdacme >"$T/acme.jsonl"
enqueue_sql "$T/acme.jsonl" acme
wait_for "acme delivered (the worker has seen beta's records)" 20 sql_is "SELECT count(*) FROM outbox WHERE workspace='acme' AND state='done'" 1
cat >>"$T/callsync.conf" <<CONF

[workspace beta]
api_base = $SIM_URL
token_file = $T/acme.token
intercom_version = 2.16
admin_id = 1001
default_region = US
default_tags = voice-ai
request_timeout = 5
connect_timeout = 2
CONF
kill -HUP $W
wait_for "beta delivered" 15 sql_is "SELECT count(*) FROM outbox WHERE workspace='beta' AND state='done'" 3
check "(d) after a reload that adds beta, beta's 3 waiting records are delivered" [ $? -eq 0 ]
is "(d) none of beta's records dead-lettered (unknown_workspace)" "$(sql "SELECT count(*) FROM dead_letter d JOIN outbox o ON o.id=d.outbox_id WHERE o.workspace='beta'")" 0
kill -TERM $W; wait $W
is "(d) exit status 0" "$?" 0
snap
is "(d) one conversation per delivered record" "$(st '.conversations|length')" "$(sql "SELECT count(*) FROM outbox WHERE state='done'")"

# --- (e) restart-only settings ----------------------------------------
part e --seed 735
start_worker e
wait_for "the worker booted" 20 sim_has '[.requests.log[]|select(.path=="/me")]|length > 0'
sed -i -e "s|^database = .*|database = $T/other.db|" \
    -e 's/^request_timeout = 5$/request_timeout = 5\nrate_limit = 500/' "$T/callsync.conf"
"$BIN/callsyncd" --config "$T/callsync.conf" --check >/dev/null
is "(e) the changed config is valid" "$?" 0
kill -HUP $W
wait_for "the reload logged" 10 grep -q 'SIGHUP' "$T/e.log"
is "(e) one line names 'database' as requiring a restart" "$(grep 'database' "$T/e.log" | grep -c 'restart')" 1
is "(e) one line names 'rate_limit' as requiring a restart" "$(grep 'rate_limit' "$T/e.log" | grep -c 'restart')" 1
check "(e) the worker keeps its database (no $T/other.db created)" [ ! -e "$T/other.db" ]
kill -TERM $W; wait $W
is "(e) exit status 0" "$?" 0
diag "(e) log: $(grep -i 'sighup\|restart' "$T/e.log" | tr '\n' '|')"
