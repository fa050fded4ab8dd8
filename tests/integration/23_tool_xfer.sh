#!/bin/sh
# 23_tool_xfer: export/import round trip between two databases, keeping
# keys, markers, journals and dead letters; idempotent import; damaged
# and truncated bundles refused with nothing written.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
DB2=$T/other.db
"$CS" --db "$DB" init >/dev/null
"$CS" --db "$DB2" init >/dev/null
sql <<'S'
INSERT INTO outbox (workspace, record_key, payload, state, attempts)
VALUES ('acme', 'p1', '{"type":"call","call_id":"p1","caller":{"phone":"+15551230001"},"summary":"a","nps":9,"ratio":0.1}', 'pending', 0),
       ('acme', 'p2', '{"type":"call","call_id":"p2","caller":{"phone":"+15551230002"},"summary":"b"}', 'inflight', 2),
       ('acme', 'd1', '{"type":"note","key":"d1","conversation_id":"5","body":"c"}', 'dead', 4),
       ('beta', 'x1', '{"type":"note","key":"x1","conversation_id":"6","body":"d"}', 'done', 1);
INSERT INTO journal (outbox_id, step, intercom_id, detail) SELECT id, 'contact', '6500aa', '{"found":"search"}' FROM outbox WHERE record_key = 'p2';
INSERT INTO journal (outbox_id, step, intercom_id) SELECT id, 'conversation', '77' FROM outbox WHERE record_key = 'p2';
INSERT INTO dead_letter (outbox_id, reason, class, message, http_status) SELECT id, 'http_422', 'permanent', 'bad', 422 FROM outbox WHERE record_key = 'd1';
S

"$CS" --db "$DB" export -o "$T/all.jsonl" 2>/dev/null; rc=$?
is "export exits 0" "$rc" 0
is "bundle is mode 0600" "$(stat -c %a "$T/all.jsonl")" 600
is "header" "$(head -1 "$T/all.jsonl" | jq -c '[.type, .version, .records]')" '["callsync-export",1,4]'
is "trailer" "$(tail -1 "$T/all.jsonl" | jq -c '[.type, .records]')" '["checksum",4]'
is "checksum covers the bytes before the trailer" "$(tail -1 "$T/all.jsonl" | jq -r .sha256)" \
    "$(head -n -1 "$T/all.jsonl" | sha256sum | cut -d' ' -f1)"
is "payload is the object itself" "$(sed -n 2p "$T/all.jsonl" | jq -r .payload.summary)" "a"
check "numbers keep their spelling" grep -q '"ratio":0.1[,}]' "$T/all.jsonl"
is "export audited" "$(sql "SELECT json_extract(detail, '\$.records') FROM audit WHERE json_extract(detail, '\$.action') = 'export'")" 4
is "--state pending" "$("$CS" --db "$DB" export --state pending 2>/dev/null | jq -r 'select(.type == "record") | .key' | tr '\n' ' ')" "p1 p2 "
is "--state dead" "$("$CS" --db "$DB" export --state dead 2>/dev/null | jq -r 'select(.type == "record") | .key')" "d1"
"$CS" --db "$DB" export --state bogus >/dev/null 2>&1; is "bad --state is a usage error" "$?" 2

out=$("$CS" --db "$DB2" import "$T/all.jsonl" 2>"$T/err"); rc=$?
is "import exits 0" "$rc" 0
check "import summary" grep -q "imported 4 new, 0 existing" "$T/err"
q="SELECT workspace, record_key, json(payload), marker, attempts FROM outbox ORDER BY workspace, record_key"
is "records, payloads and markers kept" "$(sqlite3 "$DB2" "$q")" "$(sql "$q")"
is "inflight came back pending, in doubt" "$(sqlite3 "$DB2" "SELECT state || in_doubt FROM outbox WHERE record_key = 'p2'")" "pending1"
is "dead stays dead" "$(sqlite3 "$DB2" "SELECT state FROM outbox WHERE record_key = 'd1'")" "dead"
q="SELECT o.record_key, j.step, j.intercom_id, coalesce(j.detail, '-') FROM journal j JOIN outbox o ON o.id = j.outbox_id ORDER BY 1, 2"
is "journal kept" "$(sqlite3 "$DB2" "$q")" "$(sql "$q")"
is "dead letter kept" "$(sqlite3 "$DB2" "SELECT reason || http_status FROM dead_letter")" "http_422422"
is "import audited" "$(sqlite3 "$DB2" "SELECT json_extract(detail, '\$.new') FROM audit WHERE json_extract(detail, '\$.action') = 'import'")" 4

out=$("$CS" --db "$DB2" import - <"$T/all.jsonl" 2>"$T/err"); rc=$?
is "second import exits 0" "$rc" 0
check "second import inserts nothing" grep -q "imported 0 new, 4 existing" "$T/err"
is "still four records" "$(sqlite3 "$DB2" "SELECT count(*) FROM outbox")" 4
case "$out" in *"exists acme/p1"*) ok "second import says exists";; *) not_ok "second import says exists";; esac

# Damaged bundles: nothing written.
DB3=$T/third.db
"$CS" --db "$DB3" init >/dev/null
sed '2s/"summary":"a"/"summary":"b"/' "$T/all.jsonl" >"$T/flip.jsonl"
"$CS" --db "$DB3" import "$T/flip.jsonl" >/dev/null 2>"$T/err"; rc=$?
is "flipped byte refused" "$rc" 1
check "refusal says checksum" grep -q "checksum mismatch" "$T/err"
head -n 3 "$T/all.jsonl" >"$T/trunc.jsonl"
"$CS" --db "$DB3" import "$T/trunc.jsonl" >/dev/null 2>"$T/err"; rc=$?
is "truncated bundle refused" "$rc" 1
head -c 300 "$T/all.jsonl" >"$T/cut.jsonl"
"$CS" --db "$DB3" import "$T/cut.jsonl" >/dev/null 2>&1; is "bundle cut mid-line refused" "$?" 1
# Drop a record line but fix the checksum: the counts catch it.
{ sed -n '1p;3,5p' "$T/all.jsonl"; } >"$T/short.body"
printf '{"type":"checksum","sha256":"%s","records":4}\n' "$(sha256sum <"$T/short.body" | cut -d' ' -f1)" | cat "$T/short.body" - >"$T/short.jsonl"
"$CS" --db "$DB3" import "$T/short.jsonl" >/dev/null 2>"$T/err"; rc=$?
is "record count mismatch refused" "$rc" 1
is "nothing written by refused imports" "$(sqlite3 "$DB3" "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM journal) + (SELECT count(*) FROM audit)")" 0
echo "1..$TAPN"
