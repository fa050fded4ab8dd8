#!/bin/sh
# Waits the operator can see (issue 20 item 7).  A write in doubt is
# forced with the simulator's answer-drop fault (p_lost: the create is
# applied, its answer lost); while the worker waits it out:
#   status's DOUBT counts the record, show (text and --json) says in
#   doubt with the seconds left, /healthz says "reconciling 1 writes,
#   next in S s", /metrics has callsync_writes_in_doubt 1, and the log at
#   the default level has one line when the wait starts and one when it
#   ends (found); callsyncd --drain prints progress at least every 10 s.
# Worker: request_timeout 2, settle_margin 1, search_lag 15: a
# conversation create in doubt is concluded "not there" only after 18 s;
# it is looked for before (from 2 s on), and the simulator's search lag
# of 8 s keeps the first looks empty, so the wait is there to see until
# a look finds the conversation.
. "$(dirname "$0")/lib.sh"
t_setup
ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer
sql_is() { [ "$(sql "$1")" = "$2" ]; }
lost_n() { sim_state | jq -e ".faults.lost >= $1" >/dev/null; }
# call KEY PHONE: one call record, enqueued.
call() {
	printf '{"type":"call","call_id":"%s","caller":{"phone":"%s"},"summary":"Call %s","transcript":"hello","outcome":"done"}\n' \
	    "$1" "$2" "$1" >"$T/one.jsonl"
	enqueue_sql "$T/one.jsonl"
}
# held KEY: the record is claimed with an open intent (its wait).
held() { sql_is "SELECT count(*) FROM outbox o JOIN journal j ON j.outbox_id = o.id WHERE o.record_key = '$1' AND o.state = 'inflight' AND j.step LIKE 'intent:%'" 1; }

sim_start --seed 94 --search-lag 8 --attributes "$ATTRS" || exit 1
write_conf "search_lag = 15"
sed -i 's/^request_timeout = 5$/request_timeout = 2/' "$T/callsync.conf"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1

# --- 1. a daemon waiting out a write in doubt -------------------------------
sim_ctl '{"p_lost":1.0,"fault_paths":"/conversations"}'
call d1 +15550009401
listen_start "$T/callsync.conf" "$T/w.log" || exit 1
wait_for "the create's answer to be lost" 20 lost_n 1
check "the simulator applied the create and dropped its answer" [ $? -eq 0 ]
sim_ctl '{"p_lost":0}'
wait_for "the record to wait with its intent open" 20 held d1
check "the record waits, claimed, with an open intent" [ $? -eq 0 ]
sleep 1		# a moment into the wait (not a wait for a state)

cs status --json >"$T/st.json" 2>"$T/st.err"
is "status --json: in_doubt counts the waiting record" "$(jq -r 'select(.workspace=="acme") | .in_doubt' "$T/st.json")" 1
cs status >"$T/st.txt" 2>&1
doubtcol=$(awk 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "DOUBT") c = i } $1 == "acme" { print $c }' "$T/st.txt")
is "status: the DOUBT column says 1" "$doubtcol" 1
sed 's/^/# status: /' "$T/st.txt"

cs show --json d1 >"$T/show.json" 2>"$T/show.err"
is "show --json: in_doubt true" "$(jq -r .in_doubt "$T/show.json")" true
is "show --json: the step in doubt" "$(jq -r .doubt.step "$T/show.json")" conversation
left=$(jq -r .doubt.reconcile_in_s "$T/show.json")
check "show --json: seconds left until reconciling, 1..18 ($left)" [ "$left" -ge 1 ] 2>/dev/null && [ "$left" -le 18 ]
cs show d1 >"$T/show.txt" 2>&1
check "show: says in doubt and when it reconciles" grep -Eq 'in doubt.*reconcil(ed|es|ing) in [0-9]+ s' "$T/show.txt"
grep -i 'doubt' "$T/show.txt" | sed 's/^/# show: /'

curl -s "$H/healthz" >"$T/hz.json"
is "/healthz: writes_in_doubt 1" "$(jq -r .workspaces.acme.writes_in_doubt "$T/hz.json")" 1
check "/healthz: 'reconciling 1 writes, next in S s'" jq -e '.workspaces.acme.detail | test("^reconciling 1 writes, next in [0-9]+ s$")' "$T/hz.json"
is "/healthz: the workspace state says reconciling" "$(jq -r .workspaces.acme.state "$T/hz.json")" reconciling
is "/healthz: a wait is not a failure" "$(jq -r .status "$T/hz.json")" ok
diag "healthz: $(cat "$T/hz.json")"

curl -s "$H/metrics" >"$T/m.txt"
check "/metrics: callsync_writes_in_doubt 1" grep -q '^callsync_writes_in_doubt{workspace="acme"} 1$' "$T/m.txt"
check "/metrics: callsync_writes_in_doubt has a TYPE line" grep -q '^# TYPE callsync_writes_in_doubt gauge' "$T/m.txt"
# /ui's "Writes in doubt" section (up to the next heading) lists it.
curl -s "$H/ui" | awk '/<h2 id="doubt">/ { on = 1; next } /<h2/ { on = 0 } on' >"$T/ui-doubt.html"
check "/ui: the record is listed under writes in doubt" grep -q '>d1<' "$T/ui-doubt.html"

wait_for "delivered" 40 sql_is "SELECT state FROM outbox WHERE record_key='d1'" done
check "delivered after the wait" [ $? -eq 0 ]
curl -s "$H/metrics" >"$T/m2.txt"
check "/metrics after: callsync_writes_in_doubt 0" grep -q '^callsync_writes_in_doubt{workspace="acme"} 0$' "$T/m2.txt"
kill -TERM $WPID; wait $WPID
is "log (default level): one line when the wait starts (next look, and the window)" "$(grep -c "d1: .*outcome unknown.*looking in [0-9]* s, 'not there' only after [0-9]* s" "$T/w.log")" 1
is "log (default level): one line when it ends, found" "$(grep -c 'd1: .*in doubt resolved after [0-9]* s: found' "$T/w.log")" 1
grep 'd1: ' "$T/w.log" | sed 's/^/# log: /'
snap
m=$(sql "SELECT marker FROM outbox WHERE record_key='d1'")
is "one conversation (found, not created again)" "$(st --arg m "$m" '[.conversations[] | select(.body | contains($m))] | length')" 1

# --- 2. callsyncd --drain waiting out a write in doubt ----------------------
# A first run meets the lost answer and gives the record back to retry
# later (exit 3); the next run reconciles it, waiting out its doubt.
sim_ctl '{"p_lost":1.0,"fault_paths":"/conversations"}'
call d2 +15550009402
timeout 60 "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/drain1.log"
is "--drain, first run: the create's answer lost, the record waits (exit 3)" "$?" 3
lost_n 2
check "--drain, first run: the simulator dropped the answer" [ $? -eq 0 ]
sim_ctl '{"p_lost":0}'
wait_for "the record to be due" 30 lane_head_due
# Each stderr line stamped with the millisecond it came.
{ timeout 90 "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>&1 >/dev/null; echo "rc=$?"; } |
    while IFS= read -r l; do echo "$(date +%s%3N) $l"; done >"$T/drain.log"
sed 's/^/# drain: /' "$T/drain.log"
drain_rc=$(sed -n 's/^[0-9]* rc=//p' "$T/drain.log")
check "--drain: the record was delivered in this run (exit $drain_rc)" [ "$drain_rc" = 0 ] && sql_is "SELECT state FROM outbox WHERE record_key='d2'" done
np=$(grep -c 'drain: waiting' "$T/drain.log")
check "--drain: progress lines while it waits ($np)" [ "$np" -ge 1 ]
# From the line saying the wait starts to the last line: no silence over 10 s.
gap=$(awk '/d2: .*outcome unknown/ { on = 1 } on { if (prev && $1 - prev > max) max = $1 - prev; prev = $1 } END { print on ? max + 0 : -1 }' "$T/drain.log")
check "--drain: no silence over 10 s while it waits (longest $gap ms)" [ "$gap" -ge 0 ] && [ "$gap" -le 10000 ]
check "--drain: the progress names the write in doubt and the seconds left" grep -Eq 'drain: waiting .*1 writes? in doubt, next reconciled in [0-9]+ s' "$T/drain.log"

# --- 3. an intent left open by a release, the in_doubt flag not set ---------
# (an outage or a shutdown gives a record back with its intent open: the
# flag alone said DOUBT 0).  No worker runs: its doubt clock is frozen.
call x1 +15550009403
sql "INSERT INTO journal (outbox_id, step, detail) SELECT id, 'intent:conversation', '{\"at\":' || unixepoch() || ',\"waited_ms\":5000,\"need_ms\":18000}' FROM outbox WHERE record_key = 'x1'; UPDATE outbox SET in_doubt = 0, next_at = unixepoch() + 3600 WHERE record_key = 'x1'"
cs status --json >"$T/st3.json" 2>&1
is "open intent, flag 0: status --json counts it in doubt" "$(jq -r 'select(.workspace=="acme") | .in_doubt' "$T/st3.json")" 1
cs show --json x1 >"$T/show3.json" 2>&1
is "open intent, flag 0: show --json in_doubt true" "$(jq -r .in_doubt "$T/show3.json")" true
is "open intent, frozen clock: reconciled 13 s after a worker takes it" "$(jq -r .doubt.reconcile_in_s "$T/show3.json")" 13
# /ui reads the same definition: a worker serving the page (x1 is not
# due for an hour, so it is not claimed) lists x1 under writes in doubt.
listen_start "$T/callsync.conf" "$T/w3.log" || exit 1
curl -s "$H/ui" | awk '/<h2 id="doubt">/ { on = 1; next } /<h2/ { on = 0 } on' >"$T/ui-doubt3.html"
check "open intent, flag 0: /ui lists it under writes in doubt" grep -q '>x1<' "$T/ui-doubt3.html"
