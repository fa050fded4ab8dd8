#!/bin/sh
# 82_ops_heartbeat: the workers table (migration 0004).
#   a. a running worker has a row: owner, pid, host, version, started_at,
#      heartbeat_at, workspaces; heartbeat_at moves every ~10 s;
#   b. callsync status shows it live; status --workers --json too;
#   c. a clean exit (SIGTERM) deletes the row;
#   d. a worker killed -9 leaves a row, shown stale ("not running"), and
#      its waiting records are reported as served by no running worker;
#   e. a row whose heartbeat is old while its lock is held is stale too;
#   f. forget-worker: a live worker refused, a stale one forgotten with an
#      operator audit row (--all-stale, --json), usage and unknown owners.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start || exit 1
write_conf
CS="$BIN/callsync"
"$CS" --config "$T/callsync.conf" init >/dev/null 2>&1
is "init creates the workers table" \
    "$(sql "SELECT count(*) FROM sqlite_master WHERE name='workers'")" 1

# ---------------------------------------------------------------- (a)
"$BIN/callsyncd" --config "$T/callsync.conf" -d 2>"$T/w1.log" &
W=$!
PIDS="$PIDS $W"
wait_for "the workers row" 10 sh -c "[ \$(sqlite3 '$DB' 'SELECT count(*) FROM workers') -eq 1 ]"
is "one row" "$(sql 'SELECT count(*) FROM workers')" 1
is "pid is the worker's" "$(sql 'SELECT pid FROM workers')" "$W"
is "host" "$(sql 'SELECT host FROM workers')" "$(hostname)"
is "version is callsyncd --version's" "callsyncd $(sql 'SELECT version FROM workers')" "$("$BIN/callsyncd" --version)"
is "workspaces" "$(sql 'SELECT workspaces FROM workers')" acme
check "owner is host:pid:nonce" sh -c "sqlite3 '$DB' 'SELECT owner FROM workers' | grep -q '^.*:$W:[0-9a-f]\{16\}\$'"
check "started_at is now" sh -c "[ \$((\$(date +%s) - \$(sqlite3 '$DB' 'SELECT started_at FROM workers'))) -le 5 ]"
hb0=$(sql 'SELECT heartbeat_at FROM workers')
wait_for "a heartbeat" 15 sh -c "[ \$(sqlite3 '$DB' 'SELECT heartbeat_at FROM workers') -gt $hb0 ]"
check "heartbeat_at moves (was $hb0, now $(sql 'SELECT heartbeat_at FROM workers'))" \
    [ "$(sql 'SELECT heartbeat_at FROM workers')" -gt "$hb0" ]

# ---------------------------------------------------------------- (b)
"$CS" --config "$T/callsync.conf" status >"$T/st1" 2>&1
is "status exits 0" "$?" 0
diag "status: $(tr '\n' '|' <"$T/st1")"
check "status lists the worker as live" grep -q "^live .*:$W:.* acme\$" "$T/st1"
"$CS" --config "$T/callsync.conf" status --workers --json >"$T/wk1" 2>&1
is "status --workers --json: one object" "$(jq -s 'length' "$T/wk1")" 1
is "... live, pid, workspaces" "$(jq -c '[.state, .pid, .workspaces]' "$T/wk1")" "[\"live\",$W,[\"acme\"]]"
is "... why is null" "$(jq -c '.why' "$T/wk1")" null
"$CS" --config "$T/callsync.conf" status --json >"$T/stj" 2>&1
is "status --json: workspace objects only, no worker in them" \
    "$(jq -c '[.workspace, has("owner")]' "$T/stj")" '["acme",false]'
printf '{"type":"call","call_id":"h1","caller":{"phone":"+15550000001"},"summary":"hb"}\n' >"$T/h1.jsonl"
"$CS" --config "$T/callsync.conf" enqueue "$T/h1.jsonl" >/dev/null 2>&1
wait_for "h1 delivered" 20 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT state FROM outbox WHERE record_key='h1'\")\" = done ]"
is "h1 delivered" "$(sql "SELECT state FROM outbox WHERE record_key='h1'")" done

# ---------------------------------------------------------------- (c)
kill -TERM $W
wait $W
is "worker exits 0" "$?" 0
is "clean exit deletes the row" "$(sql 'SELECT count(*) FROM workers')" 0
"$CS" --config "$T/callsync.conf" status >"$T/st2" 2>&1
check "status: no worker running" grep -q '^no worker is running' "$T/st2"

# ---------------------------------------------------------------- (d)
sim_ctl '{"p_stall":1}'
"$BIN/callsyncd" --config "$T/callsync.conf" -d 2>"$T/w2.log" &
W=$!
PIDS="$PIDS $W"
wait_for "the workers row" 10 sh -c "[ \$(sqlite3 '$DB' 'SELECT count(*) FROM workers') -eq 1 ]"
kill -KILL $W
wait $W 2>/dev/null
sim_ctl '{"p_stall":0}'
printf '{"type":"call","call_id":"h2","caller":{"phone":"+15550000002"},"summary":"hb2"}\n' >"$T/h2.jsonl"
"$CS" --config "$T/callsync.conf" enqueue "$T/h2.jsonl" >/dev/null 2>&1
is "a killed worker leaves its row" "$(sql 'SELECT count(*) FROM workers')" 1
"$CS" --config "$T/callsync.conf" status >"$T/st3" 2>&1
diag "status: $(tr '\n' '|' <"$T/st3")"
check "status shows it stale: not running" grep -q "^stale .*:$W:.*not running" "$T/st3"
check "status: acme's record waits, no running worker serves it" \
    grep -q 'acme: 1 record waiting, no running worker serves' "$T/st3"
"$CS" --config "$T/callsync.conf" status --workers --json >"$T/wk3" 2>&1
is "status --workers --json: stale" "$(jq -r '.state' "$T/wk3")" stale
is "status --json: acme not served" \
    "$("$CS" --config "$T/callsync.conf" status --json | jq -c 'select(.workspace=="acme")|.served')" false

# ---------------------------------------------------------------- (e)
"$BIN/callsyncd" --config "$T/callsync.conf" -d 2>"$T/w3.log" &
W=$!
PIDS="$PIDS $W"
wait_for "h2 delivered by a new worker" 20 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT state FROM outbox WHERE record_key='h2'\")\" = done ]"
is "two rows: the stale one and the new one" "$(sql 'SELECT count(*) FROM workers')" 2
"$CS" --config "$T/callsync.conf" status --workers >"$T/st4" 2>&1
check "the new worker is live" grep -q "^live .*:$W:" "$T/st4"
sqlite3 -cmd ".timeout 10000" "$DB" "UPDATE workers SET heartbeat_at = unixepoch() - 600 WHERE pid = $W"
"$CS" --config "$T/callsync.conf" status --workers >"$T/st5" 2>&1
diag "status --workers: $(tr '\n' '|' <"$T/st5")"
check "an old heartbeat with the lock held: stale, no heartbeat" \
    grep -q "^stale .*:$W:.*no heartbeat for" "$T/st5"
wait_for "the next heartbeat" 15 sh -c "[ \$(sqlite3 '$DB' \"SELECT unixepoch() - heartbeat_at FROM workers WHERE pid = $W\") -lt 60 ]"
"$CS" --config "$T/callsync.conf" status --workers >"$T/st6" 2>&1
check "the next heartbeat makes it live again" grep -q "^live .*:$W:" "$T/st6"

# ---------------------------------------------------------------- (f)
# forget-worker: a live worker is refused, a stale one forgotten (with an
# operator audit row), usage and unknown owners are clear errors.
LIVE=$(sql "SELECT owner FROM workers WHERE pid = $W")
STALE=$(sql "SELECT owner FROM workers WHERE pid != $W")
"$CS" --config "$T/callsync.conf" forget-worker "$LIVE" >"$T/fw1" 2>&1
is "forget-worker of a live worker: refused (exit 1)" "$?" 1
check "it says the worker is live" grep -q "is live (pid $W on .*stop the worker instead" "$T/fw1"
"$CS" --config "$T/callsync.conf" forget-worker --all-stale --json >"$T/fw0" 2>"$T/fw0.err"
is "forget-worker --all-stale --json: exit 0" "$?" 0
is "--all-stale leaves the live worker" "$(sql "SELECT count(*) FROM workers WHERE owner = '$LIVE'")" 1
kill -TERM $W
wait $W
is "the clean exit deleted the live worker's row: none left" "$(sql 'SELECT count(*) FROM workers')" 0
is "--all-stale forgot the killed worker meanwhile" "$(jq -r '.forgotten[].owner' "$T/fw0")" "$STALE"
sed 's/^/# forget-worker stderr: /' "$T/fw0.err"
"$CS" --config "$T/callsync.conf" forget-worker >"$T/fw2" 2>&1
is "forget-worker without OWNER: usage (exit 2)" "$?" 2
"$CS" --config "$T/callsync.conf" forget-worker nosuch:1:x >"$T/fw3" 2>&1
is "forget-worker of an unknown owner: exit 1" "$?" 1
check "it names the owner and where to look" grep -q "no worker nosuch:1:x in .*status --workers" "$T/fw3"
is "the operator audit row names the forgotten worker" \
    "$(sql "SELECT json_extract(detail, '\$.action') || ' ' || json_extract(detail, '\$.owner') FROM audit WHERE kind = 'operator' AND json_extract(detail, '\$.action') = 'forget_worker'")" \
    "forget_worker $STALE"
"$CS" --config "$T/callsync.conf" audit verify >/dev/null 2>&1
is "audit verify after forget-worker" "$?" 0
"$CS" --config "$T/callsync.conf" forget-worker --all-stale >"$T/fw4" 2>&1
is "nothing stale left: exit 0" "$?" 0
check "and says so" grep -q "no stale worker to forget" "$T/fw4"
echo "1..$TAPN"
