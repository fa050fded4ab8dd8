#!/bin/sh
# demo.sh (make demo): the main job on the embedded default.  Starts the
# bundled Intercom simulator, enqueues docs/sample-calls.jsonl into a
# fresh SQLite outbox, drains it with callsyncd and shows what happened.
# Everything lives in ./demo/ (kept for a look afterwards); the last lines
# list each file left there and how to remove them.
set -u
cd "$(dirname "$0")/.." || exit 1
BIN=${CALLSYNC_BIN:-bin}
D=$(pwd)/demo
rm -rf "$D"; mkdir -p "$D"; chmod 700 "$D"
TOKEN=demo-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$TOKEN" >"$D/acme.token"; chmod 600 "$D/acme.token"
"$BIN/intercom-sim" --port 0 --port-file "$D/sim.port" --control-port 0 \
    --control-port-file "$D/sim.cport" --token-file "$D/acme.token" \
    --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer,plan_interest,callback_requested:boolean \
    >"$D/sim.log" 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null; wait $SIM 2>/dev/null' EXIT INT TERM
i=0; while [ ! -s "$D/sim.port" ] || [ ! -s "$D/sim.cport" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && { echo "simulator did not start"; cat "$D/sim.log"; exit 1; }
	sleep 0.05
done
cat >"$D/callsync.conf" <<CONF
[worker]
database = $D/outbox.db

[workspace acme]
; No real token is configured: the bundled simulator stands in for Intercom.
api_base = http://127.0.0.1:$(cat "$D/sim.port")
token_file = $D/acme.token
admin_id = 1001
default_region = US
default_tags = voice-ai
allowed_attributes = plan_interest, callback_requested
route = billing:team:2002
escalation_team = 2001
CONF
chmod 600 "$D/callsync.conf"
CS="$BIN/callsync --config $D/callsync.conf"
echo "== callsync init"; $CS init || exit 1
echo "== callsync enqueue docs/sample-calls.jsonl"; $CS enqueue docs/sample-calls.jsonl
echo "== callsync status (before)"; $CS status
echo "== callsyncd --drain"; "$BIN/callsyncd" --config "$D/callsync.conf" --drain
echo "   exit status $?"
echo "== callsync status (after)"; $CS status
echo "== callsync ls"; $CS ls
echo "== callsync dlq ls"; $CS dlq ls
echo "== callsync audit"; $CS audit
echo "== callsync audit verify"; $CS audit verify
echo "== what the simulated Intercom now holds"
curl -s "http://127.0.0.1:$(cat "$D/sim.cport")/_sim/state" | jq -r '
  "contacts: \(.contacts|length)",
  (.contacts[] | "  \(.id) \(.role) \(.phone // "") \(.email // "") \(.custom_attributes|tostring)"),
  "conversations: \(.conversations|length)",
  (.conversations[] | "  #\(.id) team=\(.team_assignee_id // "-") tags=\([.tags[].name]|join(",")) parts=\(.parts|length)\n    \(.body|split("\n")[0])"),
  "requests: \(.requests.total)"'
# What is left, so a new user knows what to look at and what to delete.
echo "== files left in $D"
for f in "$D"/*; do
	case ${f##*/} in
	outbox.db) what="the outbox: records, journal, audit log (callsync --db $f ls)" ;;
	outbox.db-wal) what="its SQLite write-ahead log" ;;
	outbox.db-shm) what="its SQLite shared-memory index" ;;
	outbox.db.owners) what="worker lock files (empty after a clean exit)" ;;
	callsync.conf) what="the configuration (callsync --config $f status)" ;;
	acme.token) what="the made-up token the simulator accepted" ;;
	sim.log) what="the simulator's log" ;;
	sim.port|sim.cport) what="the port the simulator listened on" ;;
	*) what="" ;;
	esac
	printf '  %s  %s\n' "$f" "$what"
done
echo "remove them all with: rm -rf $D"
