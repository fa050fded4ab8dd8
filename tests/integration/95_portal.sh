#!/bin/sh
# Captive portal (issue 20 item 2): the network answers instead of
# Intercom (a hotel or venue login page).  The simulator's "portal" mode
# stands for the network, not for Intercom: every API request gets a 302
# to a login page on another host, or a 200 text/html login page.
#
# At start and in the middle of a drain: the workspace's breaker opens, no
# record is dead-lettered and no attempt is charged while the portal
# answers, one log line per episode names it ("the network answered
# instead of Intercom (HTTP 302 to host ...: captive portal or proxy?)"),
# and once the portal goes away every record is delivered exactly once.
# Redirects are never followed: the host the portal points to never sees
# a request (so never the token).
. "$(dirname "$0")/lib.sh"
t_setup
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sql_ge() { [ "$(sql "$1")" -ge "$2" ]; }
portal_ge() { [ "$(sim_state | jq '.faults.portal_answered // 0')" -ge "$1" ]; }
netlines() { grep -c 'the network answered instead of Intercom' "$T/w.log"; }

# The login page's host: a second simulator that counts every request.
"$BIN/intercom-sim" --port 0 --port-file "$T/login.port" \
    --control-port 0 --control-port-file "$T/login.cport" \
    --token other >"$T/login.log" 2>&1 &
PIDS="$PIDS $!"
wait_for "the login host to listen" 10 test -s "$T/login.cport" || exit 1
LOGIN="127.0.0.1:$(cat "$T/login.port")"
LOGIN_CTL="http://127.0.0.1:$(cat "$T/login.cport")"

sim_start --seed 95 --latency 30 --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
sim_ctl "{\"portal\":\"302\",\"portal_location\":\"http://$LOGIN/login?continue=https%3A%2F%2Fapi.intercom.io%2Fme\"}"
write_conf "max_attempts = 2
search_lag = 2"
sed -i 's/^request_timeout = 5$/request_timeout = 2/' "$T/callsync.conf"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
gen_calls 20 8 boot >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"

# --- 1. at start: a 302 to another host ---------------------------------
listen_start "$T/callsync.conf" "$T/w.log" || { not_ok "worker starts"; exit 1; }
wait_for "the portal answered five times (boot check, probes)" 20 portal_ge 5
check "start: the portal keeps answering (probes)" [ $? -eq 0 ]
wait_for "breaker open" 10 sql_is "SELECT breaker FROM workspace_state WHERE workspace='acme'" open
check "start (302): the breaker is open" [ $? -eq 0 ]
is "start (302): nothing dead-lettered" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
is "start (302): no attempt charged" "$(sql "SELECT coalesce(sum(attempts),0) FROM outbox")" 0
is "start (302): one log line for the portal" "$(netlines)" 1
check "start (302): the line names the status and the Location host" \
    grep -q "the network answered instead of Intercom (HTTP 302 to host $LOGIN: captive portal or proxy?)" "$T/w.log"
check "start (302): no 'GET /me answered HTTP 302; carrying on'" sh -c "! grep -q 'carrying on' '$T/w.log'"
# /healthz says who answered, not "Intercom unreachable".
curl -s -m 5 -o "$T/hz" "$H/healthz"
is "start (302): /healthz names the breaker" "$(jq -r '.problems[] | select(.problem == "breaker_open") | .workspace' "$T/hz")" acme
check "start (302): ...and that the network answered instead of Intercom" \
    grep -q "the network answered instead of Intercom (HTTP 302 to host $LOGIN" "$T/hz"
# The portal turns into a 200 login page: the same episode, no new line.
sim_ctl '{"portal":"html"}'
n0=$(sim_state | jq '.faults.portal_answered')
wait_for "the html portal answered probes" 10 portal_ge $((n0 + 3))
is "start (html): still no attempt charged" "$(sql "SELECT coalesce(sum(attempts),0) FROM outbox")" 0
is "start (html): still nothing dead-lettered" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
is "start (html): still one log line" "$(netlines)" 1
sim_ctl '{"portal":null}'
wait_for "first batch delivered" 60 sql_is "SELECT count(*) FROM outbox WHERE state<>'done'" 0
check "start: every record delivered once the portal is gone" [ $? -eq 0 ]
check "start: recovery is logged" grep -q "reachable again" "$T/w.log"

# --- 2. mid-drain: a 200 text/html page, then a 302 ---------------------
sim_ctl '{"latency_ms":150}'
gen_calls 60 20 mid >"$T/mid.jsonl"
enqueue_sql "$T/mid.jsonl"
wait_for "some mid records delivered" 30 sql_ge "SELECT count(*) FROM outbox WHERE state='done' AND record_key LIKE 'mid%'" 5
sim_ctl '{"portal":"html"}'
wait_for "breaker open (html)" 15 sql_is "SELECT breaker FROM workspace_state WHERE workspace='acme'" open
check "mid-drain (html): the breaker opens" [ $? -eq 0 ]
n0=$(sim_state | jq '.faults.portal_answered')
wait_for "probes meet the html portal" 10 portal_ge $((n0 + 3))
sim_ctl '{"portal":"302"}'
n0=$(sim_state | jq '.faults.portal_answered')
wait_for "probes meet the 302 portal" 10 portal_ge $((n0 + 3))
is "mid-drain: nothing dead-lettered while the portal answers" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
is "mid-drain: no attempt charged while the portal answers" "$(sql "SELECT count(*) FROM attempt_log WHERE charged=1")" 0
is "mid-drain: one more log line for the second episode" "$(netlines)" 2
check "mid-drain: the line says HTTP 200 text/html" grep -q "the network answered instead of Intercom (HTTP 200 text/html" "$T/w.log"
sim_ctl '{"portal":null,"latency_ms":30}'
wait_for "all delivered" 90 sql_is "SELECT count(*) FROM outbox WHERE state<>'done'" 0
check "mid-drain: every record delivered once the portal is gone" [ $? -eq 0 ]
kill -TERM $WPID; wait $WPID
is "worker exits 0" "$?" 0

snap
exactly_once_checks
is "no record dead-lettered" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
is "no charged attempt at all" "$(sql "SELECT count(*) FROM attempt_log WHERE charged=1")" 0
is "each record charged one attempt (its delivery)" "$(sql "SELECT max(attempts) FROM outbox")" 1
check "no http_302 or 'HTTP 200' dead letter in the log" sh -c "! grep -q 'dead-lettered:' '$T/w.log'"
is "the login page's host never got a request (redirects not followed)" \
    "$(curl -sf "$LOGIN_CTL/_sim/state" | jq '.requests.total + .faults.portal_answered')" 0
check "the token is in no log line" sh -c "! grep -q '$SIM_TOKEN' '$T/w.log'"
diag "portal answers: $(st '.faults.portal_answered'); log lines: $(grep 'network answered' "$T/w.log" | sed 's/^.*acme: //' | tr '\n' '|')"
