#!/bin/sh
# 28_tool_unserved: records of workspaces no running worker serves.
#   a. enqueue to a workspace the config lacks: one warning, enqueued;
#   b. status, status --json and doctor: a workspace is served when its
#      workspace_state worker holds the flock on its lock file in
#      DATABASE.owners/ (a live worker is faked with flock(1)); a lock
#      file nobody holds (dead worker) or no row is unserved; without the
#      lock directory, a row under 5 minutes old counts as served;
#   c. prune deletes audit rows 500 per transaction, a checkpoint each,
#      and audit verify still passes.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
sim_start --attributes plan_interest,callback_requested:boolean || { not_ok "simulator started"; exit 1; }
write_conf
CONF=$T/callsync.conf
"$CS" --config "$CONF" init >/dev/null

# ---------------------------------------------------------------- (a)
printf '{"type":"call","call_id":"c-beta","caller":{"phone":"+15555550100"},"summary":"s"}\n' >"$T/beta.json"
printf '{"type":"call","call_id":"c-acme","caller":{"phone":"+15555550101"},"summary":"s"}\n' >"$T/acme.json"
"$CS" --config "$CONF" enqueue --workspace beta "$T/beta.json" >"$T/out" 2>"$T/err"; rc=$?
is "enqueue to an unconfigured workspace exits 0" "$rc" 0
is "one warning naming the workspace and config" \
    "$(grep -c "^callsync: warning: workspace 'beta' is not in $CONF; no worker configured like this one will deliver it\$" "$T/err")" 1
is "the record is enqueued all the same" "$(sql "SELECT count(*) FROM outbox WHERE workspace = 'beta' AND record_key = 'c-beta'")" 1
printf '{"type":"call","call_id":"c-b2","caller":{"phone":"+15555550102"},"summary":"s"}\n{"type":"call","call_id":"c-b3","caller":{"phone":"+15555550103"},"summary":"s"}\n' >"$T/beta2.json"
"$CS" --config "$CONF" enqueue --workspace beta "$T/beta2.json" >/dev/null 2>"$T/err"
is "one warning for many records" "$(grep -c warning "$T/err")" 1
"$CS" --config "$CONF" enqueue --workspace acme "$T/acme.json" >/dev/null 2>"$T/err"; rc=$?
is "configured workspace: exit 0" "$rc" 0
check "configured workspace: no warning" sh -c "! grep -q warning '$T/err'"
"$CS" --db "$DB" enqueue --workspace gamma "$T/beta.json" >/dev/null 2>"$T/err"; rc=$?
is "without a config: exit 0" "$rc" 0
check "without a config: no warning" sh -c "! grep -q warning '$T/err'"

# ---------------------------------------------------------------- (b)
# acme: live worker; beta: dead worker (lock file, nobody holds it);
# gamma: no workspace_state row; delta: nothing waiting, dead worker.
sql "INSERT INTO outbox (workspace, record_key, payload) VALUES ('delta', 'd1', '{}');
     UPDATE outbox SET state = 'done', delivered_at = unixepoch() WHERE workspace = 'delta';
     INSERT INTO workspace_state (workspace, worker) VALUES
        ('acme', 'host-a:101:00000000000000aa'),
        ('beta', 'host-b:202:00000000000000bb'),
        ('delta', 'host-b:202:00000000000000bb');"
mkdir -m 700 "$DB.owners"
LIVE=$DB.owners/host-a_101_00000000000000aa
DEAD=$DB.owners/host-b_202_00000000000000bb
: >"$DEAD"
mkfifo "$T/fifo"
flock "$LIVE" -c 'read x' <"$T/fifo" &
PIDS="$PIDS $!"
exec 3>"$T/fifo"
held() { ! flock -n "$LIVE" true; }
wait_for "the fake worker holds its lock" 10 held

"$CS" --config "$CONF" status >"$T/out" 2>"$T/err"; rc=$?
is "status exits 0 with unserved records" "$rc" 0
check "beta named unserved" grep -qx "beta: 3 records waiting, no running worker serves this workspace (not in this configuration either)" "$T/out"
check "gamma named unserved" grep -q "^gamma: 1 record waiting, no running worker serves this workspace" "$T/out"
check "acme (live worker) not named" sh -c "! grep -q '^acme:' '$T/out'"
check "delta (nothing waiting) not named" sh -c "! grep -q '^delta:' '$T/out'"
"$CS" --db "$DB" status >"$T/out2" 2>&1
check "with --db alone: the hint of the brief" grep -qx "beta: 3 records waiting, no running worker serves this workspace (not in any running worker's configuration?)" "$T/out2"

"$CS" --config "$CONF" status --json >"$T/json"; rc=$?
is "status --json exits 0" "$rc" 0
is "json: served and waiting per workspace" \
    "$(jq -c '[.workspace, .served, .waiting]' "$T/json" | tr '\n' ' ')" \
    '["acme",true,1] ["beta",false,3] ["delta",false,0] ["gamma",false,1] '

"$CS" --config "$CONF" doctor --fix >/dev/null 2>&1
"$CS" --config "$CONF" doctor >"$T/out" 2>&1; rc=$?
is "doctor: warnings do not fail it" "$rc" 0
check "doctor warns for beta" grep -q "^WARN beta: 3 records waiting, no running worker serves this workspace (its worker host-b:202:00000000000000bb is not running" "$T/out"
check "doctor warns for gamma" grep -q "^WARN gamma: 1 record waiting, no running worker serves this workspace (no worker has recorded serving it" "$T/out"
is "doctor: two warnings" "$(grep -c '^WARN' "$T/out")" 2
check "the dead lock file is left alone" test -f "$DEAD"
check "the live worker still holds its lock" held

# The live worker exits (its lock file stays, unheld): acme is unserved.
exec 3>&-
wait_for "the fake worker let go" 10 flock -n "$LIVE" true
is "json: acme unserved once its worker is gone" \
    "$("$CS" --config "$CONF" status --json | jq -c 'select(.workspace == "acme") | .served')" false
check "status: configured workspace, no worker running" grep -qx \
    "acme: 1 record waiting, no running worker serves this workspace (is callsyncd running with this configuration?)" \
    -  <<EOS
$("$CS" --config "$CONF" status)
EOS
# A clean exit removes the lock file: unserved too.
rm -f "$LIVE"
is "json: acme unserved without its lock file" \
    "$("$CS" --config "$CONF" status --json | jq -c 'select(.workspace == "acme") | .served')" false

# No lock directory (a worker older than the lock files): the row's age.
DB2=$T/old.db
"$CS" --db "$DB2" init >/dev/null
sqlite3 "$DB2" "INSERT INTO outbox (workspace, record_key, payload) VALUES ('fresh', 'k', '{}'), ('stale', 'k', '{}');
    INSERT INTO workspace_state (workspace, worker, updated_at) VALUES
        ('fresh', 'host:1', unixepoch() - 60), ('stale', 'host:1', unixepoch() - 600);"
is "no lock directory: recent row served, stale row not" \
    "$("$CS" --db "$DB2" status --json | jq -c '[.workspace, .served]' | tr '\n' ' ')" \
    '["fresh",true] ["stale",false] '
check "status made no lock directory" test ! -e "$DB2.owners"

# ---------------------------------------------------------------- (c)
DB3=$T/prune.db
"$CS" --db "$DB3" init >/dev/null
sqlite3 "$DB3" "INSERT INTO outbox (workspace, record_key, payload, state)
    SELECT 'acme', 'k' || value, '{}', 'dead' FROM generate_series(1, 1201);
    INSERT INTO dead_letter (outbox_id, reason, class, message)
    SELECT id, 'http_422', 'permanent', 'm' FROM outbox;"
"$CS" --db "$DB3" dlq replay --all >/dev/null 2>&1
is "1201 operator audit rows" "$(sqlite3 "$DB3" "SELECT count(*) FROM audit")" 1201
"$CS" --db "$DB3" audit verify >/dev/null; is "verify passes before prune" "$?" 0
cp "$DB3" "$T/prune-before.db"
# --older-than 0 is refused (test 84): let the rows age past 1 s instead.
aged() { [ $(( $(date +%s%3N) - $(sqlite3 "$DB3" "SELECT max(at) FROM audit") )) -gt 1100 ]; }
wait_for "audit rows over a second old" 10 aged
out=$("$CS" --db "$DB3" prune --older-than 1s); rc=$?
is "prune exits 0" "$rc" 0
is "prune says 1200 audit rows" "$out" "pruned 0 delivered records and 1200 audit rows"
is "three chunks: a checkpoint each, 500/500/200" \
    "$(sqlite3 "$DB3" "SELECT group_concat(json_extract(detail, '\$.pruned_through'), ' ') FROM audit WHERE kind = 'checkpoint' ORDER BY id")" \
    "500 1000 1200"
is "first surviving row follows the last checkpoint" "$(sqlite3 "$DB3" "SELECT min(id) FROM audit")" 1201
out=$("$CS" --db "$DB3" audit verify); rc=$?
is "verify passes after a chunked prune" "$rc" 0
diag "$out"
# A prune interrupted after its first chunk (a trigger refuses the second
# checkpoint) leaves a log that verifies; the next prune finishes.
cp "$T/prune-before.db" "$T/cut.db"
sqlite3 "$T/cut.db" "CREATE TRIGGER cut BEFORE INSERT ON audit
    WHEN NEW.kind = 'checkpoint' AND (SELECT count(*) FROM audit WHERE kind = 'checkpoint') > 0
    BEGIN SELECT RAISE(ABORT, 'interrupted'); END;"
"$CS" --db "$T/cut.db" prune --older-than 1s >/dev/null 2>&1
is "interrupted prune exits 1" "$?" 1
is "its first chunk stays pruned" "$(sqlite3 "$T/cut.db" "SELECT min(id) FROM audit")" 501
"$CS" --db "$T/cut.db" audit verify >/dev/null; is "verify passes between chunks" "$?" 0
sqlite3 "$T/cut.db" "DROP TRIGGER cut"
"$CS" --db "$T/cut.db" prune --older-than 1s >/dev/null; is "the next prune exits 0" "$?" 0
"$CS" --db "$T/cut.db" audit verify >/dev/null; is "and the log verifies" "$?" 0
echo "1..$TAPN"
