#!/bin/sh
# 22_tool_audit: audit rows written by the tool itself (dlq replay);
# listing formats and filters; verify detects an altered and a missing
# row; prune keeps the chain verifiable.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
"$CS" --db "$DB" init >/dev/null
sql <<'S'
INSERT INTO outbox (workspace, record_key, payload, state)
SELECT 'acme', 'k' || value, '{"type":"note","key":"k' || value || '","conversation_id":"1","body":"x"}', 'dead'
FROM generate_series(1, 5);
INSERT INTO outbox (workspace, record_key, payload, state, delivered_at)
VALUES ('acme', 'old-done', '{"type":"note","key":"old-done","conversation_id":"1","body":"x"}', 'done', unixepoch() - 90 * 86400),
       ('acme', 'new-done', '{"type":"note","key":"new-done","conversation_id":"1","body":"x"}', 'done', unixepoch());
INSERT INTO dead_letter (outbox_id, reason, class, message) SELECT id, 'http_422', 'permanent', 'm' FROM outbox WHERE state = 'dead';
S
"$CS" --db "$DB" dlq replay --all >/dev/null
is "five operator rows" "$(sql "SELECT count(*) FROM audit")" 5

out=$("$CS" --db "$DB" audit verify); rc=$?
is "verify exits 0" "$rc" 0
is "verify message" "$out" "audit log intact: 5 rows"

"$CS" --db "$DB" audit --format json >"$T/json"; rc=$?
is "audit --format json exits 0" "$rc" 0
is "json: one line per row" "$(wc -l <"$T/json" | tr -d ' ')" 5
is "json fields" "$(jq -c 'select(.id == 1) | [.kind, .workspace, .record_key]' "$T/json")" '["operator","acme","k1"]'
check "json time has ms" sh -c "jq -r .time '$T/json' | grep -Eqx '[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z'"
"$CS" --db "$DB" audit --format csv >"$T/csv"; rc=$?
is "audit --format csv exits 0" "$rc" 0
is "csv header" "$(head -1 "$T/csv")" "id,time,kind,workspace,record_key,step,method,path,http_status,object_id,admin_id,duration_ms,body_sha256,detail"
is "csv rows" "$(wc -l <"$T/csv" | tr -d ' ')" 6
check "csv quotes the JSON detail" grep -q ',"{""action"":""dlq_replay""' "$T/csv"
is "--key filter" "$("$CS" --db "$DB" audit --key k3 --format json | jq -r .record_key)" "k3"
is "--limit keeps the newest" "$("$CS" --db "$DB" audit --limit 2 --format json | jq -r .id | tr '\n' ' ')" "4 5 "
is "--until in the past finds nothing" "$("$CS" --db "$DB" audit --until 2000-01-01T00:00:00Z --format json | wc -l | tr -d ' ')" 0
"$CS" --db "$DB" audit --format xml >/dev/null 2>&1; is "bad --format is a usage error" "$?" 2
"$CS" --db "$DB" audit >"$T/text"; is "text format exits 0" "$?" 0

# An altered row.
cp "$DB" "$T/alt.db"
sqlite3 "$T/alt.db" "UPDATE audit SET record_key = 'forged' WHERE id = 3"
out=$("$CS" --db "$T/alt.db" audit verify); rc=$?
is "altered row: verify exits 1" "$rc" 1
is "altered row named" "$out" "audit row 3: altered (hash mismatch)"

# A deleted middle row.
cp "$DB" "$T/del.db"
sqlite3 "$T/del.db" "DELETE FROM audit WHERE id = 2"
out=$("$CS" --db "$T/del.db" audit verify); rc=$?
is "missing row: verify exits 1" "$rc" 1
is "missing row named" "$out" "audit row 2 is missing"

# Prune: dry run, then real; the chain still verifies.
out=$("$CS" --db "$DB" prune --older-than 30d --dry-run); rc=$?
is "prune dry run exits 0" "$rc" 0
is "dry run deletes nothing" "$(sql "SELECT count(*) FROM outbox WHERE state = 'done'")" 2
"$CS" --db "$DB" prune >/dev/null 2>&1; is "prune without --older-than exits 2" "$?" 2
out=$("$CS" --db "$DB" prune --older-than 30d); rc=$?
is "prune exits 0" "$rc" 0
is "old delivered record pruned, new one kept" "$(sql "SELECT group_concat(record_key) FROM outbox WHERE state = 'done'")" "new-done"
is "pending records never pruned" "$(sql "SELECT count(*) FROM outbox WHERE state = 'pending'")" 5
# --older-than 0 is refused (test 84): let the rows age past 1 s instead.
aged() { [ $(( $(date +%s%3N) - $(sql "SELECT max(at) FROM audit") )) -gt 1100 ]; }
wait_for "audit rows over a second old" 10 aged
out=$("$CS" --db "$DB" prune --older-than 1s); rc=$?
is "prune of audit rows exits 0" "$rc" 0
is "a checkpoint stands for the pruned rows" "$(sql "SELECT count(*) FROM audit WHERE kind = 'checkpoint'")" 1
check "some audit rows were pruned" test "$(sql "SELECT min(id) FROM audit")" -gt 1
out=$("$CS" --db "$DB" audit verify); rc=$?
is "verify passes after prune" "$rc" 0
echo "1..$TAPN"
