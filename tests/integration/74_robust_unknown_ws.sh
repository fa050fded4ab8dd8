#!/bin/sh
# Robustness: a workspace one worker does not know is not a bad record.
# Two workers share a database with different configs (A: acme + beta,
# B: acme only, e.g. during a rolling config change).  Records for beta
# that B sees must stay pending for A, never be dead-lettered as
# unknown_workspace.  `callsync enqueue --workspace X` with X not in the
# config warns on stderr but still enqueues (exit 0).
. "$(dirname "$0")/lib.sh"
t_setup
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sim_start --seed 74 || exit 1
write_conf ""
cp "$T/callsync.conf" "$T/b.conf"			# B: acme only
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
cp "$T/callsync.conf" "$T/a.conf"			# A: acme and beta
"$BIN/callsyncd" --config "$T/a.conf" --check >/dev/null
is "config A (acme + beta) is valid" "$?" 0
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
gen_calls 4 4 ua >"$T/acme.jsonl"
gen_calls 4 4 ub | sed 's/+1555000/+1555770/' >"$T/beta.jsonl"
enqueue_sql "$T/acme.jsonl" acme
enqueue_sql "$T/beta.jsonl" beta

# Only B runs: it drains acme, and must leave beta alone.
"$BIN/callsyncd" --config "$T/b.conf" -d -vv 2>"$T/b.log" &
WB=$!; PIDS="$PIDS $WB"
wait_for "B delivers acme" 20 sql_is "SELECT count(*) FROM outbox WHERE workspace='acme' AND state='done'" 4
check "B (acme only) delivers the acme records" [ $? -eq 0 ]
# B sorts every new record (lane, validity) before it claims any: by the
# time acme is delivered it has seen the beta records too.
kill -TERM $WB; wait $WB
is "B exits 0 on SIGTERM" "$?" 0
is "beta records not dead-lettered by B" "$(sql "SELECT count(*) FROM outbox WHERE workspace='beta' AND state='dead'")" 0
is "no dead_letter row with reason unknown_workspace" "$(sql "SELECT count(*) FROM dead_letter WHERE reason='unknown_workspace'")" 0
is "beta records still pending after B" "$(sql "SELECT count(*) FROM outbox WHERE workspace='beta' AND state='pending'")" 4
is "B charged no attempt to beta records" "$(sql "SELECT coalesce(sum(attempts),0) FROM outbox WHERE workspace='beta'")" 0
# A --drain run as B's config: beta is waiting for another worker.
timeout 60 "$BIN/callsyncd" --config "$T/b.conf" --drain 2>>"$T/b.log"
rc=$?
check "a --drain run of B does not fail (exit $rc, 0 or 3)" sh -c "[ $rc -eq 0 ] || [ $rc -eq 3 ]"
is "beta still pending after B's --drain" "$(sql "SELECT count(*) FROM outbox WHERE workspace='beta' AND state='pending'")" 4

# Now A runs: beta is delivered.
timeout 60 "$BIN/callsyncd" --config "$T/a.conf" --drain 2>"$T/a.log"
is "A --drain exits 0" "$?" 0
is "A delivers beta's records" "$(sql "SELECT count(*) FROM outbox WHERE workspace='beta' AND state='done'")" 4
snap
is "one conversation per record ($(st '.conversations|length'))" "$(st '.conversations|length')" 8

# enqueue with a workspace the config does not know: warn, still enqueue.
gen_calls 1 1 ug | sed 's/+1555000/+1555660/' >"$T/gamma.jsonl"
"$BIN/callsync" --config "$T/a.conf" enqueue --workspace gamma "$T/gamma.jsonl" >"$T/enq.out" 2>"$T/enq.err"
is "enqueue --workspace gamma (not configured) exits 0" "$?" 0
is "the record is enqueued for gamma" "$(sql "SELECT count(*) FROM outbox WHERE workspace='gamma'")" 1
check "stderr warns that gamma is not in the configuration" grep -qi 'warn.*gamma\|gamma.*not.*config\|gamma.*unknown\|unknown.*gamma' "$T/enq.err"
diag "enqueue stderr: $(tr '\n' '|' <"$T/enq.err")"
"$BIN/callsync" --config "$T/a.conf" enqueue --workspace acme "$T/gamma.jsonl" >/dev/null 2>"$T/enq2.err"
check "no such warning for a configured workspace" sh -c "! grep -qi 'not in the config\|unknown workspace\|warning' '$T/enq2.err'"
