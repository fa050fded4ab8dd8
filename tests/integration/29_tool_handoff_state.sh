#!/bin/sh
# 29_tool_handoff_state: records handed to another machine by export
# --handoff are not dead letters (issue 20, item 8).
#   a. after the handoff and the other machine's delivery: status shows
#      them as HANDED-OFF, not DEAD; dlq ls lists no dead letter;
#   b. dlq replay --all replays nothing; --reason handed_off without
#      --force refuses (exit 1) and changes nothing; the dry run says
#      another machine took them, with the bundle and when;
#   c. this site's worker then delivers nothing: the simulator still has
#      one conversation per call (the bug: two, with the same marker);
#      /metrics: callsync_records_dead 0, callsync_records_handed_off 2;
#   d. dlq replay --key K --force brings one back (audited, forced);
#   e. export --state all carries the state and import keeps it;
#   f. migration 0008 turns a schema-7 handed_off dead letter into the
#      new state with its bundle time.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start || exit 1
write_conf ""
CS="$BIN/callsync --config $T/callsync.conf"
$CS init >/dev/null 2>&1
gen_calls 2 2 ho >"$T/calls.jsonl"
$CS enqueue "$T/calls.jsonl" >/dev/null 2>&1
$CS export --handoff --state pending -o "$T/bundle.jsonl" 2>"$T/exp.err"
is "handoff export exits 0" "$?" 0
diag "$(cat "$T/exp.err")"
# The other machine imports and delivers.
mkdir "$T/b"
sed "s|^database = .*|database = $T/b/outbox.db|" "$T/callsync.conf" >"$T/b/callsync.conf"
chmod 600 "$T/b/callsync.conf"
"$BIN/callsync" --config "$T/b/callsync.conf" init >/dev/null 2>&1
"$BIN/callsync" --config "$T/b/callsync.conf" import "$T/bundle.jsonl" >/dev/null 2>&1
is "the other machine imports the bundle" "$?" 0
"$BIN/callsyncd" --config "$T/b/callsync.conf" --drain 2>/dev/null
is "the other machine drains (exit 0)" "$?" 0
is "two conversations, one per call" "$(sim_state | jq '.conversations|length')" 2

# ---------------------------------------------------------------- (a)
is "rows: handed_off here, none dead" \
    "$(sql "SELECT group_concat(state) FROM (SELECT DISTINCT state FROM outbox)")" "handed_off"
$CS status >"$T/status" 2>&1
diag "$(head -2 "$T/status")"
check "status has a HANDED-OFF column" grep -q 'HANDED-OFF' "$T/status"
is "status: acme DEAD 0, HANDED-OFF 2" \
    "$(awk 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } $1 == "acme" { print $c["DEAD"], $c["HANDED-OFF"] }' "$T/status")" "0 2"
is "status --json: dead 0, handed_off 2" \
    "$($CS status --json | jq -c 'select(.workspace == "acme") | [.dead, .handed_off, .dead_letters]')" "[0,2,0]"
is "dlq ls lists no dead letter" "$($CS dlq ls --json | wc -l)" 0
is "dlq ls --reason handed_off lists the two" "$($CS dlq ls --reason handed_off --json | jq -r .reason | sort | uniq -c | awk '{print $1, $2}')" "2 handed_off"

# ---------------------------------------------------------------- (b)
$CS dlq replay --all >"$T/out" 2>&1
is "replay --all exits 0" "$?" 0
is "replay --all replays nothing" "$(sql "SELECT count(*) FROM outbox WHERE state = 'pending'")" 0
$CS dlq replay --reason handed_off >"$T/out" 2>&1
is "replay --reason handed_off without --force: exit 1" "$?" 1
check "the refusal says another machine took it and wants --force" \
    grep -q 'another machine took it.*--force' "$T/out"
is "and replays nothing" "$(sql "SELECT count(*) FROM outbox WHERE state = 'pending'")" 0
$CS dlq replay --reason handed_off --dry-run >"$T/dry" 2>&1
is "dry run exits 0" "$?" 0
diag "$(head -3 "$T/dry")"
check "dry run names the bundle file" grep -q "$T/bundle.jsonl" "$T/dry"
created=$(head -1 "$T/bundle.jsonl" | jq -r .created_at)
check "dry run names the bundle's time ($created)" grep -q "export bundle of $created" "$T/dry"
check "dry run says another machine took it" grep -q 'another machine took it' "$T/dry"
is "handoff rows keep the bundle's digest" \
    "$(sql "SELECT DISTINCT sha256 FROM handoff")" "$(tail -1 "$T/bundle.jsonl" | jq -r .sha256)"

# ---------------------------------------------------------------- (c)
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>/dev/null
is "this site's worker drains nothing (exit 0)" "$?" 0
snap
is "still one conversation per call" "$(st '.conversations|length')" 2
is "no marker opens two conversations" \
    "$(st -r '.conversations[].body' | grep -o 'cs[0-9a-f]\{16\}' | sort | uniq -d | wc -l)" 0
listen_start "$T/callsync.conf" "$T/w.log" || exit 1
curl -sf "$H/metrics" >"$T/metrics"
is "metrics: callsync_records_dead 0" "$(grep '^callsync_records_dead{workspace="acme"}' "$T/metrics" | awk '{print $2}')" 0
is "metrics: callsync_records_handed_off 2" "$(grep '^callsync_records_handed_off{workspace="acme"}' "$T/metrics" | awk '{print $2}')" 2
check "metrics: handed_off gauge has HELP and TYPE" grep -q '^# TYPE callsync_records_handed_off gauge' "$T/metrics"
kill $WPID; wait $WPID 2>/dev/null

# ---------------------------------------------------------------- (d)
$CS dlq replay --key ho1 --force --note "bundle lost" >"$T/out" 2>&1
is "replay --key --force exits 0" "$?" 0
is "ho1 pending again, ho2 still handed off" \
    "$(sql "SELECT group_concat(record_key || ':' || state) FROM (SELECT record_key, state FROM outbox ORDER BY record_key)")" \
    "ho1:pending,ho2:handed_off"
is "its handoff row is gone" "$(sql "SELECT count(*) FROM handoff h JOIN outbox o ON o.id = h.outbox_id WHERE o.record_key = 'ho1'")" 0
is "the replay is audited as forced, with the bundle" \
    "$(sql "SELECT json_extract(detail, '\$.forced') || ',' || json_extract(detail, '\$.handoff.bundle') FROM audit WHERE kind = 'operator' AND record_key = 'ho1'")" \
    "1,$T/bundle.jsonl"

# ---------------------------------------------------------------- (e)
$CS export --state all -o "$T/all.jsonl" 2>/dev/null
is "export --state all: ho2 travels as handed_off" \
    "$(grep '"key":"ho2"' "$T/all.jsonl" | jq -c '[.state, .handoff.bundle]')" "[\"handed_off\",\"$T/bundle.jsonl\"]"
"$BIN/callsync" --db "$T/c.db" init >/dev/null 2>&1
"$BIN/callsync" --db "$T/c.db" import "$T/all.jsonl" >/dev/null 2>&1
is "a third machine imports it (exit 0)" "$?" 0
is "and keeps it handed off, with its bundle" \
    "$(sqlite3 "$T/c.db" "SELECT o.state || ',' || h.bundle FROM outbox o JOIN handoff h ON h.outbox_id = o.id WHERE o.record_key = 'ho2'")" \
    "handed_off,$T/bundle.jsonl"

# ---------------------------------------------------------------- (f)
V7=$T/v7.db
{ for f in migrations/000[1-7]_*.sql; do cat "$f"; done
  echo "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL DEFAULT (unixepoch()));"
  echo "PRAGMA user_version = 7;"
  echo "INSERT INTO outbox (workspace, record_key, payload, state, last_error) VALUES ('acme', 'old1', '{}', 'dead', 'handed off'), ('acme', 'old2', '{}', 'dead', 'HTTP 422');"
  echo "INSERT INTO dead_letter (outbox_id, reason, class, message, note, dead_at) VALUES (1, 'handed_off', 'operator', 'handed off in the export bundle of 2026-11-30T10:00:00Z: delivered from another machine', 'dlq replay brings it back here', 1764496800), (2, 'http_422', 'permanent', 'm', NULL, 1764496800);"
} | sqlite3 -batch "$V7"
is "a schema-7 database" "$(sqlite3 "$V7" 'PRAGMA user_version')" 7
"$BIN/callsync" --db "$V7" migrate >/dev/null 2>"$T/mig.err"
is "migrate exits 0" "$?" 0
is "the handed_off dead letter is handed_off now" \
    "$(sqlite3 "$V7" "SELECT group_concat(record_key || ':' || state) FROM (SELECT record_key, state FROM outbox ORDER BY id)")" \
    "old1:handed_off,old2:dead"
is "its handoff row keeps the bundle's time and when" \
    "$(sqlite3 "$V7" "SELECT created_at || ',' || handed_at FROM handoff")" "2026-11-30T10:00:00Z,1764496800"
is "no handed_off dead letter is left; the other stays" \
    "$(sqlite3 "$V7" "SELECT group_concat(reason) FROM dead_letter")" "http_422"
echo "1..$TAPN"
