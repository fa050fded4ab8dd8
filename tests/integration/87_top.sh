#!/bin/sh
# 87_top: `callsync top`, the live view.
#   a. --help exits 0 and names --once; a bad --interval exits 2;
#   b. while a worker drains through a slow simulator, `top --once`
#      shows acme delivering, deliveries and requests per second > 0 and
#      requests in flight as N/TARGET (from the worker's /metrics);
#   c. once drained, its PENDING, CLAIMED, DOUBT and DEAD columns are the
#      database's counts, and the worker is counted live;
#   d. not a terminal: one plain frame after the other, no escape codes;
#      on a terminal (script(1)): the screen is redrawn;
#   e. the worker stopped: the frame says no worker answers, REQ/S "-",
#      exit 0; with --db alone: no [worker] listen.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
# col N: field N of acme's line in $T/top.out.
col() { awk -v n="$1" '$1 == "acme" { print $n }' "$T/top.out"; }

# ---------------------------------------------------------------- (a)
"$CS" top --help >"$T/help.out" 2>&1
is "top --help exits 0" "$?" 0
check "top --help names --once" grep -q -- '--once' "$T/help.out"
"$CS" --db "$DB" top --interval 0 >/dev/null 2>&1
is "top --interval 0 exits 2" "$?" 2

# ---------------------------------------------------------------- (b)
sim_start --latency 150 || exit 1
write_conf
cs init >/dev/null 2>&1
gen_calls 60 20 tp >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
sql "INSERT INTO outbox (workspace, record_key, payload) VALUES ('acme', 'bad1', '{\"type\":\"call\",\"call_id\":\"bad1\",\"caller\":{\"phone\":\"12\"},\"summary\":\"x\"}')"
listen_start "$T/callsync.conf" "$T/worker.log" || exit 1
wait_for "first deliveries" 30 sh -c "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM outbox WHERE state='done'\") -ge 5 ]"
cs top --once >"$T/top.out" 2>"$T/top.err"
is "top --once exits 0 while draining" "$?" 0
sed -n 2,3p "$T/top.out" | sed "s/^/# /"
is "acme is delivering" "$(col 2)" delivering
check "deliveries/s > 0 ($(col 3))" awk -v v="$(col 3)" 'BEGIN { exit !(v > 0) }'
check "requests/s > 0 ($(col 4))" awk -v v="$(col 4)" 'BEGIN { exit !(v > 0) }'
check "requests in flight as N/TARGET ($(col 5))" sh -c "echo '$(col 5)' | grep -q '^[0-9][0-9]*/[1-9][0-9]*\$'"
check "the worker's uptime in the heading" grep -q "worker 127.0.0.1:$PORT up " "$T/top.out"

# ---------------------------------------------------------------- (c)
wait_for "drained" 60 sh -c "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')\") -eq 0 ]"
cs top --once >"$T/top.out" 2>&1
is "PENDING = database" "$(col 6)" "$(sql "SELECT count(*) FROM outbox WHERE workspace='acme' AND state='pending'")"
is "CLAIMED = database" "$(col 7)" "$(sql "SELECT count(*) FROM outbox WHERE workspace='acme' AND state='inflight'")"
is "DOUBT = database" "$(col 8)" "$(sql "SELECT count(*) FROM outbox WHERE workspace='acme' AND in_doubt AND state IN ('pending','inflight')")"
is "DEAD = database (1)" "$(col 9)" "$(sql "SELECT count(*) FROM outbox WHERE workspace='acme' AND state='dead'")"
is "DEAD is the bad record" "$(col 9)" 1
is "breaker closed" "$(col 11)" closed
is "limiter ok" "$(col 12)" ok
check "1 worker live" grep -q 'workers: 1 live, 0 stale' "$T/top.out"

# ---------------------------------------------------------------- (d)
timeout 2 "$CS" --config "$T/callsync.conf" top --interval 0.3 >"$T/plain.out" 2>&1
n=$(grep -c '^WORKSPACE' "$T/plain.out")
check "not a terminal: frame after frame ($n in 2 s)" test "$n" -ge 3
is "not a terminal: no escape codes" "$(grep -c "$(printf '\033')" "$T/plain.out")" 0
script -qec "timeout 1.5 $CS --config $T/callsync.conf top --interval 0.3" /dev/null >"$T/tty.out" 2>&1
check "a terminal: the screen is cleared and redrawn" grep -q "$(printf '\033\\[H\033\\[2J')" "$T/tty.out"

# ---------------------------------------------------------------- (e)
kill -TERM $WPID; wait $WPID 2>/dev/null
cs top --once >"$T/top.out" 2>&1
is "worker stopped: exit 0" "$?" 0
check "worker stopped: says no worker answers" grep -q "request figures not shown: no worker answers on 127.0.0.1:$PORT" "$T/top.out"
is "worker stopped: REQ/S is -" "$(col 4)" -
"$CS" --db "$DB" top --once >"$T/top.out" 2>&1
check "--db alone: no [worker] listen" grep -q 'request figures not shown: no \[worker\] listen' "$T/top.out"
is "--db alone: DEAD still from the database" "$(col 9)" 1
echo "1..$TAPN"
