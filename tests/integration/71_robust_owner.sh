#!/bin/sh
# Robustness: lease owners.  An owner string must name one worker process,
# not "host:pid": PIDs are reused (containers, PID namespaces where every
# worker is PID 1).  (a) consecutive runs record different owners; (b) a
# worker killed as PID 1 of a namespace gets its claims recovered at once
# by the next one (also PID 1), not after a full lease; (c) a live worker
# in another PID namespace never releases the first worker's claims.
. "$(dirname "$0")/lib.sh"
t_setup
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sql_ge() { [ "$(sql "$1")" -ge "$2" ]; }
if [ "$(id -u)" -ne 0 ] || ! unshare --pid --fork --mount-proc true 2>/dev/null; then
	echo "ok 1 # SKIP unshare --pid needs root (PID namespaces unavailable)"
	exit 0
fi
sim_start --seed 71 || exit 1
S1_URL=$SIM_URL; S1_CTL=$SIM_CTL

# part NAME: a fresh database and config for one part of the test.
part() {
	DB=$T/$1.db
	write_conf ""
	sed -i -e 's/^lease = 30$/lease = 60/' \
	    -e 's/^request_timeout = 5$/request_timeout = 600/' "$T/callsync.conf"
	cp "$T/callsync.conf" "$T/$1.conf"
	"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
}
# ns_start NAME CONF: callsyncd as PID 1 of a new PID namespace; sets
# NSU (the unshare process) and NSW (the worker's PID seen from here).
ns_start() {
	unshare --pid --fork --mount-proc "$BIN/callsyncd" --config "$2" -d -vv \
	    2>"$T/$1.log" &
	NSU=$!; PIDS="$PIDS $NSU"
	NSW=""
	wait_for "the namespaced worker to start" 10 sh -c "pgrep -P $NSU >/dev/null"
	NSW=$(pgrep -P $NSU | head -1)
	PIDS="$PIDS $NSW"
}
one_call() { gen_calls 1 1 "$1" | sed "s/+15550000000/+1555$2/" >"$T/$1.jsonl"; enqueue_sql "$T/$1.jsonl"; }

# --- (a) owners differ between runs -----------------------------------
part a
one_call a1 1000001
"$BIN/callsyncd" --config "$T/a.conf" --drain 2>>"$T/a.log"
o1=$(sql "SELECT worker FROM workspace_state WHERE workspace='acme'")
one_call a2 1000002
"$BIN/callsyncd" --config "$T/a.conf" --drain 2>>"$T/a.log"
o2=$(sql "SELECT worker FROM workspace_state WHERE workspace='acme'")
check "(a) two plain runs record an owner each ('$o1', '$o2')" [ -n "$o1" ] && [ -n "$o2" ]
check "(a) two plain runs record different owners" [ "$o1" != "$o2" ]
one_call a3 1000003
unshare --pid --fork --mount-proc "$BIN/callsyncd" --config "$T/a.conf" --drain 2>>"$T/a.log"
o3=$(sql "SELECT worker FROM workspace_state WHERE workspace='acme'")
one_call a4 1000004
unshare --pid --fork --mount-proc "$BIN/callsyncd" --config "$T/a.conf" --drain 2>>"$T/a.log"
o4=$(sql "SELECT worker FROM workspace_state WHERE workspace='acme'")
is "(a) runs as PID 1 of a namespace drain their record" "$(sql "SELECT count(*) FROM outbox WHERE state='done'")" 4
check "(a) two runs, each PID 1 of a new namespace, record different owners ('$o3', '$o4')" [ "$o3" != "$o4" ]

# --- (b) PID reuse: a dead PID 1 worker's claims come back at once -------
part b
ns_start b1 "$T/b.conf"
check "(b) worker A runs as PID 1 of a namespace (host pid ${NSW:-?})" [ -n "$NSW" ]
one_call b0 2000000
wait_for "A boots and delivers" 20 sql_is "SELECT count(*) FROM outbox WHERE state='done'" 1
sim_ctl '{"down":"stall"}'
gen_calls 5 5 bk >"$T/b.jsonl"
enqueue_sql "$T/b.jsonl"
wait_for "A claims stalled records" 20 sql_ge "SELECT count(*) FROM outbox WHERE state='inflight'" 3
ninf=$(sql "SELECT count(*) FROM outbox WHERE state='inflight'")
ownA=$(sql "SELECT group_concat(DISTINCT lease_owner) FROM outbox WHERE state='inflight'")
check "(b) A holds $ninf stalled records (owner '$ownA')" [ "$ninf" -ge 3 ]
kill -9 "$NSW"; wait "$NSU" 2>/dev/null
is "(b) A's claims are still inflight after kill -9" "$(sql "SELECT count(*) FROM outbox WHERE state='inflight'")" "$ninf"
sim_ctl '{"down":null}'
t0=$(date +%s)
# B reconciles A's writes in doubt once they can no longer land: with
# A's request_timeout (600 s) that would be minutes, so B runs with short
# timeouts (the stalled requests were never applied by the simulator).
sed -e 's/^request_timeout = 600$/request_timeout = 2/' \
    -e 's/^\[workspace acme\]$/[workspace acme]\nsearch_lag = 2/' "$T/b.conf" >"$T/b2.conf"
chmod 600 "$T/b2.conf"
ns_start b2 "$T/b2.conf"
wait_for "B delivers A's records" 20 sql_is "SELECT count(*) FROM outbox WHERE state<>'done'" 0
check "(b) B (PID 1 again) delivers the dead A's claims within 20 s, lease = 60 ($(( $(date +%s) - t0 )) s)" [ $? -eq 0 ]
ownB=$(sql "SELECT worker FROM workspace_state WHERE workspace='acme'")
check "(b) B's owner differs from dead A's ('$ownB' vs '$ownA')" [ "$ownB" != "$ownA" ]
kill -TERM "$NSW"; wait "$NSU"
is "(b) B exits 0 on SIGTERM" "$?" 0
is "(b) nothing dead-lettered" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
snap
is "(b) no duplicate conversation" "$(st -r '.conversations[].body' | grep -o 'cs[0-9a-f]\{16\}' | sort | uniq -d | wc -l)" 0

# --- (c) a live worker in another namespace keeps its claims ------------
# A drains into the first simulator, which stalls; B into a second one
# (same workspace, healthy, 500 ms answers) so both hold claims at once.
SIM_PID1=$SIM_PID
sim_start --seed 72 --latency 500 || exit 1
S2_URL=$SIM_URL; S2_CTL=$SIM_CTL
SIM_URL=$S1_URL; SIM_CTL=$S1_CTL
part c
sed "s|^api_base = .*|api_base = $S2_URL|" "$T/c.conf" >"$T/c2.conf"
ns_start c1 "$T/c.conf"; CU1=$NSU; CW1=$NSW
one_call c0 3000000
wait_for "A boots and delivers" 20 sql_is "SELECT count(*) FROM outbox WHERE state='done'" 1
sim_ctl '{"down":"stall"}'
gen_calls 4 4 ck >"$T/c.jsonl"
enqueue_sql "$T/c.jsonl"
# All four (four callers, four lanes) before A is stopped, so that what A
# holds is fixed when it is recorded.
wait_for "A claims stalled records" 20 sql_ge "SELECT count(*) FROM outbox WHERE state='inflight' AND record_key LIKE 'ck%'" 4
# A stays alive but stopped (SIGSTOP), so that B, not A, claims the next
# records: a live, slow worker whose leases have not lapsed.
kill -STOP "$CW1"
# Stopped mid-transaction, A would hold the write lock and nobody could
# claim: that is a different case.  Resume and stop again until A is
# stopped outside a transaction (bounded).
n=0
while ! sqlite3 "$DB" ".timeout 200" "BEGIN IMMEDIATE; ROLLBACK;" >/dev/null 2>&1 &&
    [ $n -lt 20 ]; do
	kill -CONT "$CW1"; kill -STOP "$CW1"; n=$((n + 1))
done
sql "SELECT id||' '||lease_owner FROM outbox WHERE state='inflight' ORDER BY id" >"$T/a_claims"
ownA=$(sql "SELECT group_concat(DISTINCT lease_owner) FROM outbox WHERE state='inflight'")
diag "(c) A holds $(wc -l <"$T/a_claims") records as '$ownA'"
ns_start c2 "$T/c2.conf"; CU2=$NSU; CW2=$NSW
# B boots against the second simulator, which then stalls too: B's own
# records stay inflight next to A's.
s2_booted() { curl -sf "$S2_CTL/_sim/state" | jq -e '[.requests.log[]|select(.path=="/tags")]|length > 0' >/dev/null; }
wait_for "B boots" 20 s2_booted
check "(c) B boots against its simulator" [ $? -eq 0 ]
curl -sf -X POST -H 'Content-Type: application/json' -d '{"down":"stall"}' "$S2_CTL/_sim/control" >/dev/null
gen_calls 3 3 cb | sed 's/+1555000/+1555990/' >"$T/cb.jsonl"
enqueue_sql "$T/cb.jsonl"
wait_for "B claims its own records" 20 sql_ge "SELECT count(*) FROM outbox WHERE state='inflight' AND record_key LIKE 'cb%'" 1
check "(c) B claims the new records while A is stopped" [ $? -eq 0 ]
is "(c) two live workers hold claims under two distinct owners" \
    "$(sql "SELECT count(DISTINCT lease_owner) FROM outbox WHERE state='inflight'")" 2
is "(c) while both live, A's rows keep lease_owner = A" \
    "$(sql "SELECT id||' '||lease_owner FROM outbox WHERE state='inflight' AND record_key LIKE 'ck%' ORDER BY id")" "$(cat "$T/a_claims")"
kill -TERM "$CW2"; wait "$CU2"
is "(c) B exits 0 on SIGTERM (its stalled requests released after the grace period)" "$?" 0
is "(c) B released its own records" "$(sql "SELECT count(*) FROM outbox WHERE state='inflight' AND record_key LIKE 'cb%'")" 0
check "(c) A still alive (stopped)" kill -0 "$CW1"
is "(c) after B stops, A's rows are still inflight with lease_owner = A" \
    "$(sql "SELECT id||' '||lease_owner FROM outbox WHERE state='inflight' AND record_key LIKE 'ck%' ORDER BY id")" "$(cat "$T/a_claims")"
kill -CONT "$CW1"
check "(c) A still alive after SIGCONT" kill -0 "$CW1"
is "(c) A resumed: its rows are still inflight with lease_owner = A" \
    "$(sql "SELECT id||' '||lease_owner FROM outbox WHERE state='inflight' AND record_key LIKE 'ck%' ORDER BY id")" "$(cat "$T/a_claims")"
kill -9 "$CW1"; wait "$CU1" 2>/dev/null
exit 0
