#!/bin/sh
# Wake on enqueue: an idle worker polling only every 5 s picks up a record
# at once when a producer commits it, by `callsync enqueue` and by the
# documented SQL insert (inotify on the database's WAL, wake.c).  With
# wake_on_enqueue = false it falls back to the poll and still delivers.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start || exit 1
write_conf ""
sed -i 's/^poll_interval_ms = .*/poll_interval_ms = 5000/' "$T/callsync.conf"
cs init >/dev/null 2>&1

now_ms() { date +%s%3N; }
# first_req_after MS: unix ms of the first request the simulator received
# at or after MS (empty when none).
first_req_after() {
	sim_state | jq --argjson t "$1" '[.requests.log[] | select(.at_ms >= $t) | .at_ms] | min // empty'
}
ndone() { sql "SELECT count(*) FROM outbox WHERE state = 'done'"; }
start_worker() {
	"$BIN/callsyncd" --config "$T/callsync.conf" -d -vv 2>>"$T/worker.log" &
	W=$!
	PIDS="$PIDS $W"
	# Booted (GET /me, /data_attributes, /tags answered) and past the
	# poll that follows: from here on it is idle until the next poll.
	wait_for "the worker's boot checks" 30 sh -c \
	    "[ \$(curl -sf $SIM_CTL/_sim/state | jq .requests.total) -ge 3 ]"
	wait_for "the worker's first poll" 10 sh -c \
	    "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM workspace_state\") -ge 1 ]"
}
stop_worker() {
	kill -TERM "$W"
	wait "$W"
}

# woke N WHAT: record N (enqueued at $t0 by WHAT) is delivered, and its
# first request left within 2 s, well before the 5-s poll.
woke() {
	wait_for "record $1 delivered" 20 sh -c "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM outbox WHERE state='done'\") -ge $1 ]"
	is "record from $2 delivered" "$(ndone)" "$1"
	t1=$(first_req_after "$t0")
	lat=$((${t1:-0} - t0))
	diag "$2: first request after $lat ms (poll every 5000 ms)"
	check "$2: first request within 2 s, before the 5 s poll" \
	    [ -n "$t1" -a "$lat" -lt 2000 ]
}

start_worker
# 1. callsync enqueue
gen_calls 2 2 w >"$T/calls.jsonl"
head -1 "$T/calls.jsonl" >"$T/one.jsonl"
tail -1 "$T/calls.jsonl" >"$T/two.jsonl"
t0=$(now_ms)
cs enqueue "$T/one.jsonl" >/dev/null 2>&1
check "enqueue exit 0" [ $? -eq 0 ]
woke 1 "callsync enqueue"

# 2. the producer's SQL insert (a plain sqlite3 INSERT, README)
t0=$(now_ms)
enqueue_sql "$T/two.jsonl"
woke 2 "a SQL insert"
stop_worker
is "worker exits 0 on SIGTERM" "$?" 0

# 3. wake_on_enqueue = false: the poll alone still finds the record.
sed -i 's/^poll_interval_ms = .*/poll_interval_ms = 1000/' "$T/callsync.conf"
sed -i 's/^\[worker\]$/[worker]\nwake_on_enqueue = false/' "$T/callsync.conf"
start_worker
gen_calls 1 1 p >"$T/three.jsonl"
enqueue_sql "$T/three.jsonl"
wait_for "record 3 delivered by the poll" 30 sh -c "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM outbox WHERE state='done'\") -ge 3 ]"
is "wake_on_enqueue = false: delivered by the poll" "$(ndone)" 3
stop_worker
check "no error in the worker log" sh -c "! grep -qi 'inotify\|error' '$T/worker.log'"
snap
is "3 conversations" "$(st '.conversations|length')" 3

echo "1..$TAPN"
