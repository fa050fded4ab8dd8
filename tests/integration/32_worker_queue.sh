#!/bin/sh
# The send queue: with one request slot, a job that ends must hand its
# slot to the requests queued behind it (a lost wake-up would leave them
# unsent forever, and --drain would never return).
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --latency 20 || exit 1
write_conf "max_inflight = 1"
cs init >/dev/null 2>&1
gen_calls 8 8 q >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
timeout 60 "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/worker.log"
is "drain with max_inflight = 1 finishes (exit 0, no hang)" "$?" 0
is "all 8 delivered" "$(sql "SELECT count(*) FROM outbox WHERE state='done'")" 8
snap
is "8 conversations, one per record" "$(st '.conversations|length')" 8
