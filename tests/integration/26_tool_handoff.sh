#!/bin/sh
# export --handoff: a site that cannot reach Intercom hands its backlog to
# another machine; the exported records must never be delivered from here
# as well, and the other machine delivers each exactly once.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start || exit 1
write_conf ""
CS="$BIN/callsync --config $T/callsync.conf"
$CS init >/dev/null 2>&1
gen_calls 20 8 h >"$T/calls.jsonl"
$CS enqueue "$T/calls.jsonl" >/dev/null 2>&1
# A record in flight blocks the handoff.
sql "UPDATE outbox SET state='inflight', lease_owner='elsewhere:1', lease_until=unixepoch()+60 WHERE record_key='h1'"
$CS export --handoff -o "$T/bundle.jsonl" >/dev/null 2>"$T/err"
is "handoff refused while a record is in flight" "$?" 1
check "refusal says to stop the worker" grep -q 'stop callsyncd' "$T/err"
is "nothing retired by the refused handoff" "$(sql "SELECT count(*) FROM outbox WHERE state IN ('dead', 'handed_off')")" 0
sql "UPDATE outbox SET state='pending', lease_owner=NULL, lease_until=NULL WHERE record_key='h1'"
$CS export --handoff -o "$T/bundle.jsonl" 2>/dev/null
is "handoff export exits 0" "$?" 0
is "bundle holds 20 records" "$(grep -c '"type":"record"' "$T/bundle.jsonl")" 20
is "bundle records are pending" "$(grep '"type":"record"' "$T/bundle.jsonl" | grep -c '"state":"pending"')" 20
# Retired as handed_off (issue 20 item 8: no longer dead letters, which
# status counted as dead and dlq replay --all delivered a second time).
is "every exported record retired here" "$(sql "SELECT count(*) FROM outbox o JOIN handoff h ON h.outbox_id=o.id WHERE o.state='handed_off' AND h.sha256 IS NOT NULL")" 20
is "no dead letter for them" "$(sql "SELECT count(*) FROM dead_letter")" 0
is "handoff audited" "$(sql "SELECT count(*) FROM audit WHERE kind='operator' AND detail LIKE '%export_handoff%'")" 1
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>/dev/null
is "this site's worker delivers nothing" "$(sim_state | jq '.conversations|length')" 0
# The other machine imports and delivers.
mkdir "$T/b"
sed "s|^database = .*|database = $T/b/outbox.db|" "$T/callsync.conf" >"$T/b/callsync.conf"
chmod 600 "$T/b/callsync.conf"
"$BIN/callsync" --config "$T/b/callsync.conf" init >/dev/null 2>&1
"$BIN/callsync" --config "$T/b/callsync.conf" import "$T/bundle.jsonl" >/dev/null 2>&1
is "import exits 0" "$?" 0
"$BIN/callsyncd" --config "$T/b/callsync.conf" --drain 2>/dev/null
is "other machine drains" "$?" 0
is "20 conversations, one per record" "$(sim_state | jq '.conversations|length')" 20
is "markers kept across machines" "$(sqlite3 "$T/b/outbox.db" "SELECT group_concat(marker) FROM (SELECT marker FROM outbox ORDER BY record_key)")" "$(sql "SELECT group_concat(marker) FROM (SELECT marker FROM outbox ORDER BY record_key)")"
