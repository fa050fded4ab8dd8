#!/bin/sh
# 56_config_checks: configuration mistakes are caught before any write
# (issue 13 item 6).  Two workspaces, each on its own simulator, so that
# what each one received can be counted apart: "good" is right, "acme"
# has an admin_id and a routed team that its Intercom does not have, and
# an allowed attribute (budget_code) that it lacks.
#   a. --drain: acme is paused (exit 3), its record pending, no write;
#   b. the running worker pauses acme with one loud line naming each key,
#      its value and what Intercom said; acme's records stay pending (no
#      attempt charged, no dead letter), its simulator receives no write;
#      good keeps delivering; status, /healthz and /metrics say why; the
#      allowed attribute Intercom lacks is a warning line, not a pause;
#   c. a record attribute whose value does not fit Intercom's type is
#      dropped with a warning in the journal before the first write, and
#      the call is delivered (callsync ls and show print the warning);
#   d. SIGHUP with the configuration fixed resumes acme, which delivers;
#      a record's value for the attribute Intercom lacks is dropped the
#      same way, the call delivered;
#   e. SIGHUP with a new broken setting (escalation_team) pauses the
#      running workspace again before its next record is written;
#   f. an outage during the checks is not a configuration mistake: the
#      breaker opens, nothing is paused, records go when Intercom is back;
#   g. doctor names where each token comes from (environment, file,
#      inline) and compares the token's region (GET /me app.region) with
#      the api_base host, never printing the token.
# On the code before this test, (b) and (c) fail: the contact and the
# conversation are written, then the record is dead-lettered.
. "$(dirname "$0")/lib.sh"
t_setup
ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer,plan_interest,callback_requested:boolean

sql_is() { [ "$(sql "$1")" = "$2" ]; }
state_of() { sql "SELECT state FROM outbox WHERE record_key='$1'"; }

simb_ctl() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$SIMB_CTL/_sim/control" >/dev/null; }
# Writes simulator B received (every method but GET, searches aside).
writes_b() {
	curl -sf "$SIMB_CTL/_sim/state" | jq '[.requests.log[] | select(.method != "GET" and (.path|test("search")|not))] | length'
}

# Simulator B, for acme, then A (region EU), for good: sim_start sets
# SIM_URL and SIM_CTL for the last one started.
sim_start --seed 57 --attributes "$ATTRS" || exit 1
SIMB_URL=$SIM_URL
SIMB_CTL=$SIM_CTL
sim_start --seed 56 --region EU --attributes "$ATTRS" || exit 1
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
printf '%s\n' "$SIM_TOKEN" >"$T/good.token"
chmod 600 "$T/good.token"
# acme's token comes from the environment (docs/contract.md section 3).
CALLSYNC_TOKEN_ACME=$SIM_TOKEN
export CALLSYNC_TOKEN_ACME

# conf ACME_ADMIN ACME_TEAM ACME_ATTRS [extra acme lines]
LISTEN=
conf() {
	cat >"$T/callsync.conf" <<CONF
[worker]
database = $DB
listen = $LISTEN
lease = 30
retry_base_ms = 500
retry_max = 5s
poll_interval_ms = 50

[workspace good]
api_base = $SIM_URL
token_file = $T/good.token
admin_id = 1001
default_tags = voice-ai
allowed_attributes = plan_interest, callback_requested
route = billing:team:2001
request_timeout = 5
settle_margin = 1
connect_timeout = 2

[workspace acme]
api_base = $SIMB_URL
admin_id = $1
default_tags = voice-ai
allowed_attributes = $3
route = billing:team:$2
request_timeout = 5
settle_margin = 1
connect_timeout = 2
$4
CONF
	chmod 600 "$T/callsync.conf"
}
ACME_ATTRS="plan_interest, callback_requested, budget_code"

call() {	# call KEY PHONE [extra JSON fields]
	printf '{"type":"call","call_id":"%s","caller":{"phone":"%s"},"summary":"Call %s","category":"billing"%s}\n' "$1" "$2" "$1" "${3:-}"
}

# The simulator answers what the checks read as Intercom 2.16 documents it.
api() { curl -s -o "$T/api.json" -w '%{http_code}' -H "Authorization: Bearer $SIM_TOKEN" -H 'Accept: application/json' -H 'Intercom-Version: 2.16' "$SIM_URL$1"; }
is "sim: GET /admins/1001 200" "$(api /admins/1001):$(jq -r .id "$T/api.json")" 200:1001
is "sim: GET /admins/999 404 admin_not_found" "$(api /admins/999):$(jq -r '.errors[0].code' "$T/api.json")" 404:admin_not_found
is "sim: GET /teams/2001 200" "$(api /teams/2001):$(jq -r .type "$T/api.json")" 200:team
is "sim: GET /teams/2999 404 team_not_found" "$(api /teams/2999):$(jq -r '.errors[0].code' "$T/api.json")" 404:team_not_found
is "sim: GET /me app.region from --region" "$(api /me):$(jq -r .app.region "$T/api.json")" 200:EU

# ---------------------------------------------------------------- (a)
conf 999 2999 "$ACME_ATTRS"
call a-0 +15550560000 | enqueue_sql /dev/stdin acme
timeout 60 "$BIN/callsyncd" --config "$T/callsync.conf" --drain -v 2>"$T/drain.log"
is "drain: exit 3 (acme paused, its record waiting)" "$?" 3
is "drain: a-0 pending" "$(state_of a-0)" pending
is "drain: no write reached acme's Intercom" "$(writes_b)" 0
is "drain: one PAUSED line" "$(grep -c 'acme: PAUSED' "$T/drain.log")" 1

# ---------------------------------------------------------------- (b)
# start_worker ADMIN TEAM ATTRS [extra]: the daemon with a free listen port.
start_worker() {
	LISTEN=127.0.0.1:0; conf "$@"
	listen_start "$T/callsync.conf" "$T/w.log" -v || return 1
	LISTEN=127.0.0.1:$PORT	# later rewrites (reloads) keep the port
}
code() { curl -s -o "$T/body" -w '%{http_code}' -m 5 "$@"; }
mval() { grep "^$1 " "$T/metrics" | awk '{print $2}'; }

: >"$T/w.log"
start_worker 999 2999 "$ACME_ATTRS" || { not_ok "worker starts"; exit 1; }
{
	call a-1 +15550560001
	call a-2 +15550560002
	call a-3 +15550560003 ',"attributes":{"budget_code":"Q3","plan_interest":"pro"}'
} >"$T/acme.jsonl"
{
	call g-1 +15550561001 ',"attributes":{"plan_interest":"pro"}'
	call g-2 +15550561002
	# callback_requested is a boolean in Intercom: "yes" cannot be sent.
	call g-attr +15550561003 ',"attributes":{"plan_interest":"team","callback_requested":"yes"}'
} >"$T/good.jsonl"
enqueue_sql "$T/acme.jsonl" acme
enqueue_sql "$T/good.jsonl" good
wait_for "good's records delivered" 60 sql_is "SELECT count(*) FROM outbox WHERE workspace='good' AND state='done'" 3
check "good keeps delivering while acme is paused" [ $? -eq 0 ]
wait_for "acme paused" 30 sql_is "SELECT paused FROM workspace_state WHERE workspace='acme'" 1
check "acme: workspace_state.paused = 1" [ $? -eq 0 ]
# Every acme record was sorted (the worker saw it) and none claimed.
wait_for "acme's records sorted" 20 sql_is "SELECT count(*) FROM outbox WHERE workspace='acme' AND lane IS NOT NULL" 4
is "acme: records pending" "$(sql "SELECT group_concat(state) FROM outbox WHERE workspace='acme'")" "pending,pending,pending,pending"
is "acme: no attempt charged" "$(sql "SELECT sum(attempts) FROM outbox WHERE workspace='acme'")" 0
is "acme: no dead letter" "$(sql "SELECT count(*) FROM dead_letter d JOIN outbox o ON o.id=d.outbox_id WHERE o.workspace='acme'")" 0
is "acme: no journal row (nothing written)" "$(sql "SELECT count(*) FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.workspace='acme'")" 0
is "acme: its Intercom received no write" "$(writes_b)" 0
is "acme: one loud PAUSED line" "$(grep -c 'acme: PAUSED' "$T/w.log")" 1
grep 'acme: PAUSED' "$T/w.log" >"$T/pause.line"
check "the line names admin_id, its value and what Intercom said" grep -q 'admin_id = 999: GET /admins has no admin 999' "$T/pause.line"
check "the line names the route to the missing team" grep -q 'route = billing:team:2999: GET /teams has no team 2999' "$T/pause.line"
check "the allowed attribute Intercom lacks is not a reason to pause" sh -c "! grep -q budget_code '$T/pause.line'"
check "... but a warning line naming it" grep -q "acme: allowed_attributes = budget_code: GET /data_attributes?model=contact has no attribute budget_code; records' values for it are dropped" "$T/w.log"
check "the line says what to do" grep -q 'fix the configuration, then reload (kill -HUP or systemctl reload)' "$T/pause.line"
check "good is not paused" sql_is "SELECT paused FROM workspace_state WHERE workspace='good'" 0
check "status: pause_reason names the setting" sh -c "$BIN/callsync --config '$T/callsync.conf' status 2>&1 | grep -q 'paused: configuration: admin_id = 999'"
code "$H/healthz" >/dev/null
is "/healthz: 503" "$(code "$H/healthz")" 503
is "/healthz: the problem is acme's pause" "$(jq -r '.problems[] | select(.workspace=="acme") | .problem' "$T/body")" paused
is "/healthz: reason config" "$(jq -r '.problems[] | select(.workspace=="acme") | .reason' "$T/body")" config
check "/healthz: detail names the setting" sh -c "jq -r '.problems[] | select(.workspace==\"acme\") | .detail' '$T/body' | grep -q 'admin_id = 999'"
check "/healthz: detail says both ways out (reload, or fix Intercom and wait for the re-check)" sh -c "jq -r '.problems[] | select(.workspace==\"acme\") | .detail' '$T/body' | grep -q 'then reload, or fix Intercom (checked again every [0-9]* s)'"
code "$H/metrics" >/dev/null; cp "$T/body" "$T/metrics"
is "/metrics: callsync_paused acme 1" "$(mval 'callsync_paused{workspace="acme"}')" 1
is "/metrics: callsync_paused_config acme 1" "$(mval 'callsync_paused_config{workspace="acme"}')" 1
is "/metrics: callsync_paused_config good 0" "$(mval 'callsync_paused_config{workspace="good"}')" 0

# ---------------------------------------------------------------- (c)
is "attribute type mismatch: the call is delivered" "$(state_of g-attr)" done
jid() { sql "SELECT j.rowid FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='$1' AND j.step='$2'"; }
check "a journal warning names the attribute and the type" sh -c "sqlite3 '$DB' \"SELECT json_extract(detail, '\$.warning') FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='g-attr' AND step='attr_check'\" | grep -q 'callback_requested.*boolean'"
check "the warning was committed before the first write (contact step)" [ "$(jid g-attr attr_check)" -lt "$(jid g-attr contact)" ]
snap
phone_attr() { st -r --arg p "$1" --arg a "$2" '.contacts[] | select(.phone == $p) | .custom_attributes[$a] // "null"'; }
is "the dropped attribute was not sent" "$(phone_attr +15550561003 callback_requested)" null
is "the record's other attribute was sent" "$(phone_attr +15550561003 plan_interest)" team
is "no dead letter in good" "$(sql "SELECT count(*) FROM dead_letter")" 0
check "callsync show prints the warning" sh -c "$BIN/callsync --config '$T/callsync.conf' show g-attr 2>&1 | grep -q 'warning: attribute callback_requested dropped'"
check "callsync ls prints the warning" sh -c "$BIN/callsync --config '$T/callsync.conf' ls 2>&1 | grep 'g-attr' | grep -q 'warning: attribute callback_requested dropped'"
is "callsync ls --json carries it" "$("$BIN/callsync" --config "$T/callsync.conf" ls --json | jq -r 'select(.key=="g-attr") | .warning | test("callback_requested")')" true
check "the worker log has one line for it" grep -q 'good/g-attr: attribute callback_requested dropped' "$T/w.log"

# ---------------------------------------------------------------- (d)
conf 1001 2001 "$ACME_ATTRS"
kill -HUP "$WPID"
wait_for "acme's records delivered after SIGHUP" 60 sql_is "SELECT count(*) FROM outbox WHERE workspace='acme' AND state='done'" 4
check "SIGHUP with a fixed configuration resumes acme and delivers" [ $? -eq 0 ]
is "acme: paused cleared" "$(sql "SELECT paused FROM workspace_state WHERE workspace='acme'")" 0
check "the resume is logged" grep -q 'acme: configuration matches Intercom again; resuming' "$T/w.log"
check "acme's Intercom received writes now" [ "$(writes_b)" -gt 0 ]
curl -sf "$SIMB_CTL/_sim/state" >"$T/b.json"
is "routed to team 2001 (billing)" "$(jq '[.conversations[] | select(.team_assignee_id | tostring == "2001")] | length' "$T/b.json")" 4
check "a-3: the value for the attribute Intercom lacks dropped, with a warning" sh -c "sqlite3 '$DB' \"SELECT json_extract(detail, '\$.warning') FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='a-3' AND step='attr_check'\" | grep -q 'attribute budget_code dropped: Intercom has no contact attribute budget_code'"
is "a-3: its other attribute sent" "$(jq -r '.contacts[] | select(.phone == "+15550560003") | .custom_attributes.plan_interest' "$T/b.json")" pro
is "/healthz: 200 again" "$(code "$H/healthz")" 200

# ---------------------------------------------------------------- (e)
conf 1001 2001 "$ACME_ATTRS" "escalation_team = 2999"
kill -HUP "$WPID"
wait_for "acme paused again" 30 sql_is "SELECT paused FROM workspace_state WHERE workspace='acme'" 1
check "SIGHUP re-checks a running workspace: a missing escalation team pauses it" [ $? -eq 0 ]
check "the new line names escalation_team" grep -q 'acme: PAUSED: .*escalation_team = 2999: GET /teams has no team 2999' "$T/w.log"
nb=$(writes_b)
call a-4 +15550560004 ',"escalate":true' | enqueue_sql /dev/stdin acme
call g-4 +15550561004 | enqueue_sql /dev/stdin good
wait_for "g-4 delivered" 30 sql_is "SELECT state FROM outbox WHERE record_key='g-4'" done
wait_for "a-4 sorted" 10 sql_is "SELECT lane IS NOT NULL FROM outbox WHERE record_key='a-4'" 1
is "a-4 waits (pending, no attempt)" "$(sql "SELECT state || ',' || attempts FROM outbox WHERE record_key='a-4'")" "pending,0"
is "no new write to acme's Intercom" "$(writes_b)" "$nb"
conf 1001 2001 "$ACME_ATTRS" "escalation_team = 2002"
kill -HUP "$WPID"
wait_for "a-4 delivered" 60 sql_is "SELECT state FROM outbox WHERE record_key='a-4'" done
check "fixed again: a-4 delivered" [ $? -eq 0 ]
is "two PAUSED lines in all (start, escalation_team)" "$(grep -c 'acme: PAUSED' "$T/w.log")" 2
# A reload's checks that meet a busy Intercom (5xx) are retried, and a
# busy Intercom is no reason to pause.
# b_count ENDPOINT STATUS_PREFIX: answers of simulator B, e.g. "GET /me" 5.
b_count() { curl -sf "$SIMB_CTL/_sim/state" | jq --arg ep "$1" --arg st "$2" '[.requests.by_endpoint[$ep] // {} | to_entries[] | select(.key | startswith($st)) | .value] | add // 0'; }
n5=$(b_count "GET /me" 5)
nadm=$(b_count "GET /admins" 200)
simb_ctl '{"p_5xx":1}'
kill -HUP "$WPID"
b_more() { [ "$(b_count "$1" "$2")" -gt "$3" ]; }
wait_for "a 5xx on the reload's GET /me" 30 b_more "GET /me" 5 "$n5"
check "the reload's check met a 5xx" [ $? -eq 0 ]
simb_ctl '{"p_5xx":0}'
wait_for "GET /admins again after the 5xx" 30 b_more "GET /admins" 200 "$nadm"
check "the check is retried once Intercom answers" [ $? -eq 0 ]
is "a busy Intercom pauses nothing" "$(sql "SELECT paused FROM workspace_state WHERE workspace='acme'"),$(grep -c 'acme: PAUSED' "$T/w.log")" "0,2"
kill -TERM "$WPID"; wait "$WPID"
is "worker exits 0" "$?" 0

# ---------------------------------------------------------------- (f)
simb_ctl '{"down":"refuse"}'
: >"$T/w.log"
start_worker 1001 2001 "$ACME_ATTRS" || { not_ok "worker starts"; exit 1; }
call a-5 +15550560005 | enqueue_sql /dev/stdin acme
wait_for "acme's breaker open" 30 sql_is "SELECT breaker || paused FROM workspace_state WHERE workspace='acme'" open0
check "Intercom unreachable during the checks: breaker open, not paused" [ $? -eq 0 ]
simb_ctl '{"down":null}'
wait_for "a-5 delivered" 60 sql_is "SELECT state FROM outbox WHERE record_key='a-5'" done
check "reachable again: checks pass, a-5 delivered" [ $? -eq 0 ]
is "no PAUSED line for an outage" "$(grep -c PAUSED "$T/w.log")" 0
kill -TERM "$WPID"; wait "$WPID"

# ---------------------------------------------------------------- (g)
doc_conf() {	# doc_conf API_BASE TOKEN_LINE
	cat >"$T/doc.conf" <<CONF
[worker]
database = $DB

[workspace $3]
api_base = $1
$2
admin_id = 1001
allowed_attributes = plan_interest, callback_requested
CONF
	chmod 600 "$T/doc.conf"
}
doctor() { "$BIN/callsync" --config "$T/doc.conf" doctor >"$T/doc.out" 2>&1; }
doc_conf "$SIM_URL" "token_file = $T/good.token" good
doctor
check "doctor: token from the file, named" grep -q "^ok   good: token from file (token_file = $T/good.token)" "$T/doc.out"
check "doctor: loopback host: region read, not checked" grep -q '^ok   good: token region EU; api_base host 127.0.0.1 is not an Intercom API host (unknown host, not checked)' "$T/doc.out"
doc_conf "http://api.intercom.io.localhost:$SIM_PORT" "" acme
doctor
is "doctor: region mismatch fails (exit 1)" "$?" 1
check "doctor: token from the environment, named" grep -q '^ok   acme: token from environment (CALLSYNC_TOKEN_ACME)' "$T/doc.out"
check "doctor: the mismatch names both regions and the right host" grep -q '^FAIL acme: token region EU (GET /me app.region) but api_base host api.intercom.io.localhost is Intercom.s US host: use https://api.eu.intercom.io' "$T/doc.out"
unset CALLSYNC_TOKEN_ACME
doc_conf "http://api.eu.intercom.io.localhost:$SIM_PORT" "token = $SIM_TOKEN" inline
doctor
is "doctor: matching region passes (exit 0)" "$?" 0
check "doctor: inline token, named" grep -q '^ok   inline: token from inline (token = in the configuration file)' "$T/doc.out"
check "doctor: region matches" grep -q '^ok   inline: token region EU matches api_base host api.eu.intercom.io.localhost' "$T/doc.out"
check "doctor never prints the token" sh -c "! grep -qF '$SIM_TOKEN' '$T/doc.out' '$T/w.log' '$T/drain.log'"

echo "1..$TAPN"
