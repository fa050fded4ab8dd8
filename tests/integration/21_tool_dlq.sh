#!/bin/sh
# 21_tool_dlq: dead letters made by SQL; dlq ls fields, selectors, replay
# (dry run changes nothing; real run resets the record, keeps the journal,
# drops the dead letter, audits), purge and edit with payload history.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
"$CS" --db "$DB" init >/dev/null

# Three dead records in acme (two http_422, one invalid_phone), one in beta.
sql <<'S'
INSERT INTO outbox (workspace, record_key, payload, state, attempts, lane)
VALUES ('acme', 'k1', '{"type":"call","call_id":"k1","caller":{"phone":"+15551230001"},"summary":"a"}', 'dead', 3, 'p:+15551230001'),
       ('acme', 'k2', '{"type":"call","call_id":"k2","caller":{"phone":"+15551230002"},"summary":"b"}', 'dead', 5, 'p:+15551230002'),
       ('acme', 'k3', '{"type":"call","call_id":"k3","caller":{"phone":"12"},"summary":"c"}', 'dead', 1, NULL),
       ('beta', 'k4', '{"type":"note","key":"k4","conversation_id":"7","body":"d"}', 'dead', 2, 'v:7'),
       ('acme', 'ok1', '{"type":"note","key":"ok1","conversation_id":"8","body":"e"}', 'pending', 0, NULL);
INSERT INTO dead_letter (outbox_id, reason, class, message, http_status, note, dead_at)
SELECT id, 'http_422', 'permanent', 'conversation: 422 invalid', 422, 'later records were not blocked', unixepoch() - 7200
FROM outbox WHERE record_key IN ('k1', 'k2');
INSERT INTO dead_letter (outbox_id, reason, class, message, dead_at)
SELECT id, 'invalid_phone', 'invalid', 'caller.phone: too few digits', unixepoch() - 60 FROM outbox WHERE record_key = 'k3';
INSERT INTO dead_letter (outbox_id, reason, class, message, http_status, dead_at)
SELECT id, 'http_404', 'permanent', 'conversation not found', 404, unixepoch() FROM outbox WHERE record_key = 'k4';
INSERT INTO journal (outbox_id, step, intercom_id) SELECT id, 'contact', 'c-' || record_key FROM outbox WHERE record_key IN ('k1', 'k2');
INSERT INTO journal (outbox_id, step, intercom_id) SELECT id, 'conversation', '9001' FROM outbox WHERE record_key = 'k1';
S

"$CS" --db "$DB" dlq ls --json >"$T/ls"; rc=$?
is "dlq ls exits 0" "$rc" 0
is "dlq ls lists every dead letter" "$(wc -l <"$T/ls" | tr -d ' ')" 4
is "dlq ls --json fields" "$(jq -c 'select(.key == "k1") | [.key, .workspace, .reason, .class, .message, .http_status, .attempts, .note]' "$T/ls")" \
    '["k1","acme","http_422","permanent","conversation: 422 invalid",422,3,"later records were not blocked"]'
check "dead_at is RFC 3339 UTC" sh -c "jq -r .dead_at '$T/ls' | grep -Eqx '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'"
is "--reason selects" "$("$CS" --db "$DB" dlq ls --reason http_422 --json | jq -r .key | tr '\n' ' ')" "k1 k2 "
is "--workspace selects" "$("$CS" --db "$DB" dlq ls --workspace beta --json | jq -r .key)" "k4"
is "--key repeatable" "$("$CS" --db "$DB" dlq ls --key k3 --key k4 --json | jq -r .key | tr '\n' ' ')" "k3 k4 "
is "--since duration" "$("$CS" --db "$DB" dlq ls --since 1h --json | jq -r .key | tr '\n' ' ')" "k3 k4 "
"$CS" --db "$DB" dlq ls --since yesterday >/dev/null 2>&1
is "bad --since is a usage error" "$?" 2
"$CS" --db "$DB" dlq show k1 >"$T/show"; is "dlq show exits 0" "$?" 0
check "dlq show has the reason" grep -q "http_422" "$T/show"
"$CS" --db "$DB" dlq show ok1 >/dev/null 2>&1; is "dlq show of a live record exits 1" "$?" 1

# Replay needs a selection.
"$CS" --db "$DB" dlq replay >/dev/null 2>"$T/err"; rc=$?
is "replay without selector exits 2" "$rc" 2
check "replay without selector says how" grep -q "select records with --key, --reason, --since, --workspace or --all" "$T/err"
"$CS" --db "$DB" dlq purge >/dev/null 2>&1; is "purge without selector exits 2" "$?" 2

before=$(sql "SELECT group_concat(state || attempts, ',') FROM outbox ORDER BY id")
out=$("$CS" --db "$DB" dlq replay --reason http_422 --dry-run); rc=$?
is "dry run exits 0" "$rc" 0
case "$out" in *"would replay acme/k1"*"would replay 2 records"*) ok "dry run says what it would do";;
*) not_ok "dry run says what it would do"; diag "$out";; esac
is "dry run changes nothing" "$(sql "SELECT group_concat(state || attempts, ',') FROM outbox ORDER BY id")" "$before"
is "dry run writes no audit" "$(sql "SELECT count(*) FROM audit")" 0

out=$(USER=opal "$CS" --db "$DB" dlq replay --reason http_422 --note "fixed the team id" --rate 1000/s); rc=$?
is "replay exits 0" "$rc" 0
case "$out" in *"replayed 2 records"*) ok "replay prints the count";; *) not_ok "replay prints the count"; diag "$out";; esac
is "replayed records are pending with 0 attempts" "$(sql "SELECT group_concat(state || attempts, ',') FROM outbox WHERE record_key IN ('k1','k2')")" "pending0,pending0"
is "replayed records are due now" "$(sql "SELECT count(*) FROM outbox WHERE record_key IN ('k1','k2') AND next_at BETWEEN unixepoch() - 60 AND unixepoch()")" 2
is "journal kept" "$(sql "SELECT count(*) FROM journal")" 3
is "dead letters deleted" "$(sql "SELECT count(*) FROM dead_letter d JOIN outbox o ON o.id = d.outbox_id WHERE o.record_key IN ('k1','k2')")" 0
is "one operator audit row per record" "$(sql "SELECT count(*) FROM audit WHERE kind = 'operator' AND json_extract(detail, '\$.action') = 'dlq_replay'")" 2
is "audit row names operator, note, key" "$(sql "SELECT json_extract(detail, '\$.operator') || '|' || json_extract(detail, '\$.reason') || '|' || record_key FROM audit WHERE record_key = 'k1'")" "opal|fixed the team id|k1"
is "other dead records untouched" "$(sql "SELECT count(*) FROM outbox WHERE state = 'dead'")" 2
"$CS" --db "$DB" audit verify >/dev/null; is "audit chain intact after replay" "$?" 0
"$CS" --db "$DB" dlq replay --rate fast --all >/dev/null 2>&1; is "bad --rate is a usage error" "$?" 2

# Edit keeps history; the record stays dead.
printf '{"type":"call","call_id":"k3","caller":{"phone":"+15551230003"},"summary":"c"}\n' >"$T/fixed.json"
USER=opal "$CS" --db "$DB" dlq edit k3 --payload "$T/fixed.json" >/dev/null; rc=$?
is "edit exits 0" "$rc" 0
is "payload replaced" "$(sql "SELECT json_extract(payload, '\$.caller.phone') FROM outbox WHERE record_key = 'k3'")" "+15551230003"
is "old payload in history" "$(sql "SELECT json_extract(payload, '\$.caller.phone') || '|' || operator FROM payload_history")" "12|opal"
is "still dead, lane cleared" "$(sql "SELECT state || '|' || coalesce(lane, 'null') FROM outbox WHERE record_key = 'k3'")" "dead|null"
printf 'not json' >"$T/bad.json"
"$CS" --db "$DB" dlq edit k3 --payload "$T/bad.json" >/dev/null 2>&1; is "edit with invalid JSON exits 1" "$?" 1
is "invalid edit keeps history at one" "$(sql "SELECT count(*) FROM payload_history")" 1
"$CS" --db "$DB" dlq show k3 --json | jq -e '.payload_history | length == 1' >/dev/null
is "dlq show has the payload history" "$?" 0

# Purge.
"$CS" --db "$DB" dlq purge --workspace beta >/dev/null; rc=$?
is "purge exits 0" "$rc" 0
is "purged record gone" "$(sql "SELECT count(*) FROM outbox WHERE record_key = 'k4'")" 0
is "its dead letter gone" "$(sql "SELECT count(*) FROM dead_letter")" 1
is "purge audited" "$(sql "SELECT count(*) FROM audit WHERE json_extract(detail, '\$.action') = 'dlq_purge'")" 1
out=$("$CS" --db "$DB" dlq replay --key nothing-here); rc=$?
is "replay of nothing exits 0" "$rc" 0
is "replay of nothing says 0" "$out" "replayed 0 records"
"$CS" --db "$DB" audit verify >/dev/null; is "audit chain intact at the end" "$?" 0
echo "1..$TAPN"
