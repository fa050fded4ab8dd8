#!/bin/sh
# 90_context_api: the caller context (issue 16) on the local API.
#   a. auth: a non-loopback listen without listen_token_file is refused at
#      start and by -n; a 0644 token file is refused with a precise line;
#      with a token, a missing or wrong bearer is a 401 that echoes
#      nothing, the right one is served, /livez needs none;
#   b. bad and hostile query strings: clear 400s (JSON), unknown
#      workspace 404, POST 405;
#   c. known caller (live search, the drain's normalisation), unknown
#      caller (200, contact null), multi-match (the user wins, as in the
#      drain), merged caller (the drain's merge mapping is followed);
#   d. the worker's own conversation is in the caller's context at once;
#   e. outage: the breaker opens and answers come from the cache at once
#      (< 500 ms here, well under the 2500-ms deadline a wait would take;
#      the < 50 ms goal is bench/context.sh's figure, since a loaded ASan
#      run can be slower), marked; deadline exceeded: answered by the
#      deadline from the cache, marked stale per part;
#   f. rate-limit contention: while a rate-limited backlog drains, context
#      reads go first (live, within the deadline) and the drain goes on;
#      /metrics shows both classes and passes promtool;
#   g. no token and no other workspace's data in any answer;
#   h. callsync context: through the API, then from the cache (saying so);
#      prune and doctor cover the cache;
#   i. GET /v1/articles: live search (published only), the same answer
#      from the cache during the outage, 400s for bad queries.
. "$(dirname "$0")/lib.sh"
t_setup
CSD="$BIN/callsyncd"
have() { command -v "$1" >/dev/null 2>&1; }
jqe() { jq -e "$@" >/dev/null; }
ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer,plan_interest,callback_requested
LTOKEN=ctx-local-api-secret-0123456789

sim_start --seed 90 --rate-limit 1800 --attributes $ATTRS || exit 1
cs init >/dev/null 2>&1

# ---------------------------------------------------------------- (a)
write_conf
sed -i 's/^\[worker\]$/[worker]\nlisten = 0.0.0.0:9490/' "$T/callsync.conf"
timeout 20 "$CSD" --config "$T/callsync.conf" --drain >/dev/null 2>"$T/a1.err"
is "a: non-loopback listen without a token: refused at start (exit 1)" "$?" 1
check "a: the line names listen_token_file" grep -q "\[worker\] listen: 0.0.0.0 is not a loopback address: set listen_token_file" "$T/a1.err"
"$CSD" --config "$T/callsync.conf" -n >/dev/null 2>&1
is "a: callsyncd -n refuses it too" "$?" 1
printf '%s\n' "$LTOKEN" >"$T/listen.token"
chmod 644 "$T/listen.token"
sed -i "s|^\[worker\]\$|[worker]\nlisten_token_file = $T/listen.token|" "$T/callsync.conf"
"$CSD" --config "$T/callsync.conf" -n >/dev/null 2>"$T/a2.err"
is "a: a 0644 token file is refused (callsyncd -n exit 1)" "$?" 1
check "a: precise line: key, file, mode" grep -q "\[worker\] listen_token_file: $T/listen.token: mode 0644 allows group or other access; chmod 600 it" "$T/a2.err"
check "a: the token is not in the message" sh -c "! grep -q '$LTOKEN' '$T/a2.err'"
chmod 600 "$T/listen.token"
"$CSD" --config "$T/callsync.conf" -n >/dev/null 2>&1
is "a: with a 0600 token file the non-loopback listen is accepted (-n)" "$?" 0

# The worker for the rest: loopback, with the token (so every answer
# below also proves the bearer check lets the right token through).
ctx_conf() {
	write_conf "rate_limit = 0
context_attributes = plan_interest
context_company_attributes = csm
[workspace beta]
api_base = $SIM_URL
token_file = $T/beta.token
admin_id = 1001
request_timeout = 5
connect_timeout = 2"
	printf 'beta-wrong-token-000000000000\n' >"$T/beta.token"
	chmod 600 "$T/beta.token"
	sed -i "s|^\[worker\]\$|[worker]\nlisten = 127.0.0.1:$PORT\nlisten_token_file = $T/listen.token\ncontext_deadline_ms = 2500|" "$T/callsync.conf"
}
stop_worker() { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; }
PORT=0; ctx_conf; listen_start "$T/callsync.conf" "$T/w.log" -v
check "a: worker serves on loopback with a token" [ $? -eq 0 ]
N=0
# get URL-PATH [curl args]: status code; body kept in $T/b.N for (g).
get() {
	N=$((N + 1))
	p=$1; shift
	curl -s -m 5 -o "$T/b.$N" -w '%{http_code} %{time_total}' "$@" "$H$p" >"$T/cw"
	cp "$T/b.$N" "$T/body"
	cut -d' ' -f1 "$T/cw"
}
# ms: the last request's time as curl measured it (no process start-up).
ms() { awk '{ printf "%d\n", $2 * 1000 }' "$T/cw"
}
AUTH="Authorization: Bearer $LTOKEN"
ctx() { get "/v1/context?$1" -H "$AUTH"; }
is "a: /livez needs no token" "$(get /livez)" 200
is "a: /v1/context without a token: 401" "$(get "/v1/context?workspace=acme&phone=%2B15550001111")" 401
is "a: 401 is JSON saying unauthorized" "$(jq -r .error "$T/body")" unauthorized
is "a: wrong bearer: 401" "$(get "/v1/context?workspace=acme&phone=%2B15550001111" -H "Authorization: Bearer ${LTOKEN}x")" 401
is "a: a prefix of the token: 401" "$(get /metrics -H "Authorization: Bearer ctx-local")" 401
is "a: Basic instead of Bearer: 401" "$(get /metrics -u "x:$LTOKEN")" 401
is "a: /metrics without a token: 401" "$(get /metrics)" 401
is "a: /healthz with the token: 200 or 503" "$(get /healthz -H "$AUTH" | sed 's/503/200/')" 200

# ---------------------------------------------------------------- (b)
bad() {	# bad DESC QUERY WANT-CODE
	c=$(ctx "$2")
	is "b: $1: $3" "$c" "$3"
	check "b: $1: JSON with error and message" jqe '.error and .message' "$T/body"
}
wait_for "acme booted" 20 sh -c "curl -s -H '$AUTH' $H/healthz | jq -e '.workspaces.acme.state != \"starting\"' >/dev/null"
bad "no workspace" "phone=%2B15550001111" 400
bad "no phone nor email" "workspace=acme" 400
bad "unknown parameter" "workspace=acme&phone=%2B15550001111&q=1" 400
bad "phone twice" "workspace=acme&phone=%2B15550001111&phone=%2B15550002222" 400
bad "letters in the phone" "workspace=acme&phone=abc" 400
bad "email without @" "workspace=acme&email=nobody" 400
bad "NUL byte" "workspace=acme&phone=%2B1555%000001111" 400
bad "control character" "workspace=acme&phone=%2B1555%0A0001111" 400
bad "negative deadline" "workspace=acme&phone=%2B15550001111&deadline_ms=-5" 400
bad "deadline not a number" "workspace=acme&phone=%2B15550001111&deadline_ms=1e3" 400
bad "broken percent escape" "workspace=acme&phone=%zz" 400
LONG=$(head -c 3000 /dev/zero | tr '\0' 9)
bad "a 3000-byte query" "workspace=acme&phone=$LONG" 400
bad "script in the workspace" "workspace=%3Cscript%3E&phone=%2B15550001111" 404
check "b: the hostile value is not echoed" sh -c "! grep -q script '$T/body'"
bad "unknown workspace" "workspace=nosuch&phone=%2B15550001111" 404
is "b: POST: 405" "$(get "/v1/context?workspace=acme&phone=1" -X POST -H "$AUTH")" 405

# ---------------------------------------------------------------- (c)
mk() { sim_contact "$1"; }
A=$(mk '{"role":"user","phone":"+15550001111","email":"ada@example.com","name":"Ada","custom_attributes":{"plan_interest":"pro","callback_requested":"yes"}}')
is "c: known caller, national form: 200" "$(ctx "workspace=acme&phone=(555)%20000-1111")" 200
is "c: the contact found by the drain's normalisation" "$(jq -r .contact.id "$T/body")" "$A"
is "c: contact fields" "$(jq -c '.contact | [.name, .role, .email, .phone]' "$T/body")" '["Ada","user","ada@example.com","+15550001111"]'
is "c: configured and allowed attributes shown" "$(jq -c '.contact.attributes | [.plan_interest, .callback_requested]' "$T/body")" '["pro","yes"]'
is "c: contact part read live" "$(jq -r .sources.contact "$T/body")" live
is "c: conversations part read live" "$(jq -r .sources.conversations "$T/body")" live
check "c: as_of is RFC 3339" jqe '.as_of | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' "$T/body"
# Its conversations (an open one older than a closed one, HTML parts),
# tickets (one open, one resolved) and company.
seed() { curl -sf -X POST -H 'Content-Type: application/json' -d "$2" "$SIM_CTL/_sim/$1" | jq -r .id; }
now=$(date +%s)
C1=$(seed conversations "{\"contact_ids\":[\"$A\"],\"body\":\"<p>old question</p>\",\"state\":\"closed\",\"created_at\":$((now - 500)),\"updated_at\":$((now - 100))}")
C2=$(seed conversations "{\"contact_ids\":[\"$A\"],\"body\":\"<p>first</p>\",\"state\":\"open\",\"created_at\":$((now - 900)),\"updated_at\":$((now - 800)),\"admin_assignee_id\":1002,\"parts\":[{\"part_type\":\"comment\",\"body\":\"<p>Your <b>invoice</b> &amp; refund</p>\",\"author_type\":\"admin\",\"author_id\":\"1002\",\"created_at\":$((now - 800))}]}")
TK1=$(seed tickets "{\"contact_ids\":[\"$A\"],\"ticket_type_id\":\"3001\",\"state\":\"in_progress\",\"ticket_attributes\":{\"_default_title_\":\"Invoice is wrong\"}}")
TK2=$(seed tickets "{\"contact_ids\":[\"$A\"],\"ticket_type_id\":\"3001\",\"state\":\"resolved\",\"ticket_attributes\":{\"_default_title_\":\"Old crash\"}}")
seed companies "{\"name\":\"Adaco\",\"plan\":\"Pro\",\"monthly_spend\":250,\"custom_attributes\":{\"csm\":\"Grace\"},\"contact_ids\":[\"$A\"]}" >/dev/null
ctx "workspace=acme&phone=%2B15550001111" >/dev/null
is "c: all four parts live" "$(jq -c '[.source, .sources.contact, .sources.conversations, .sources.tickets, .sources.company, .stale]' "$T/body")" '["live","live","live","live","live",false]'
is "c: conversations: open first, then the most recent" "$(jq -c '[.conversations[].id]' "$T/body")" "[\"$C2\",\"$C1\"]"
is "c: the last part as plain text, assignee" "$(jq -c '.conversations[0] | [.snippet, .assignee.type, .assignee.id, .state]' "$T/body")" '["Your invoice & refund","admin","1002","open"]'
is "c: open tickets only" "$(jq -c '[.tickets[] | [.id, .title, .state]]' "$T/body")" "[[\"$TK1\",\"Invoice is wrong\",\"in_progress\"]]"
is "c: the company, with the configured attribute" "$(jq -c '.company | [.name, .plan, .monthly_spend, .attributes.csm]' "$T/body")" '["Adaco","Pro",250,"Grace"]'
sim_ctl '{"companies_key":"data"}'
ctx "workspace=acme&phone=%2B15550001111" >/dev/null
is "c: the company under 2.16's example key (data) too" "$(jq -c '[.sources.company, .company.name]' "$T/body")" '["live","Adaco"]'
sim_ctl '{"companies_key":"companies"}'
# Deadline exceeded for one part: tickets answer in 1.5 s, the rest at once.
sim_ctl '{"latency_paths":{"/tickets/search":1500}}'
c=$(ctx "workspace=acme&phone=%2B15550001111&deadline_ms=400")
is "c: one slow part: 200" "$c" 200
check "c: answered by the deadline ($(ms) ms < 1000)" [ "$(ms)" -lt 1000 ]
is "c: the slow part from the cache, the others live" "$(jq -c '[.source, .sources.contact, .sources.conversations, .sources.tickets, .sources.company]' "$T/body")" '["cache","live","live","cache","live"]'
is "c: the cached tickets are served" "$(jq -c '[.tickets[].id]' "$T/body")" "[\"$TK1\"]"
sim_ctl '{"latency_paths":null}'
is "c: by email: the same contact" "$(ctx "workspace=acme&email=ADA@example.com" >/dev/null; jq -r .contact.id "$T/body")" "$A"
is "c: unknown caller: 200" "$(ctx "workspace=acme&phone=%2B15550009999")" 200
is "c: unknown caller: contact null, source live" "$(jq -c '[.contact, .source, .conversations, .tickets]' "$T/body")" '[null,"live",[],[]]'
# Multi-match: a newer lead and a user on one phone: the user, as the drain.
LD=$(mk '{"role":"lead","phone":"+15550002222","name":"newer lead"}')
U2=$(mk '{"role":"user","phone":"+15550002222","name":"the user"}')
ctx "workspace=acme&phone=%2B15550002222" >/dev/null
is "c: multi-match: the user wins (ic_pick_contact, as the drain)" "$(jq -r .contact.id "$T/body")" "$U2"
# Merged: the drain learns lead L for +15550003333, Intercom merges L
# into user UM, the drain learns the merge; the context follows it.
call() { printf '{"type":"call","call_id":"%s","caller":%s,"summary":"%s"}\n' "$1" "$2" "$3"; }
call m1 '{"phone":"+15550003333"}' "first call" >"$T/m1.jsonl"
enqueue_sql "$T/m1.jsonl"
wait_for "m1 delivered" 30 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT state FROM outbox WHERE record_key='m1'\")\" = done ]"
L=$(journal_contact m1)
UM=$(mk '{"role":"user","phone":"+15550003333","email":"m@example.com","name":"merged user"}')
sim_merge "$L" "$UM"
call m2 "{\"contact_id\":\"$L\"}" "second call" >"$T/m2.jsonl"
enqueue_sql "$T/m2.jsonl"
wait_for "m2 delivered" 30 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT state FROM outbox WHERE record_key='m2'\")\" = done ]"
is "c: the drain recorded the merge L -> UM" "$(sql "SELECT into_id FROM contact_merge WHERE from_id='$L'")" "$UM"
ctx "workspace=acme&phone=%2B15550003333" >/dev/null
is "c: merged caller: the survivor, as in the drain" "$(jq -r .contact.id "$T/body")" "$UM"

# ---------------------------------------------------------------- (d)
call d1 '{"phone":"+15550001111"}' "Asked about the <b>invoice</b> & refund" >"$T/d1.jsonl"
enqueue_sql "$T/d1.jsonl"
wait_for "d1 delivered" 30 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT state FROM outbox WHERE record_key='d1'\")\" = done ]"
CV=$(sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = 'd1' AND j.step = 'conversation'")
is "d: the cache holds the new conversation first, at once" "$(sql "SELECT json_extract(conversations, '\$[0].id') FROM context_cache WHERE workspace='acme' AND contact_id='$A'")" "$CV"
is "d: its snippet is the summary as plain text" "$(sql "SELECT json_extract(conversations, '\$[0].snippet') FROM context_cache WHERE workspace='acme' AND contact_id='$A'")" "Asked about the <b>invoice</b> & refund"
ctx "workspace=acme&phone=%2B15550001111" >/dev/null
check "d: the context lists it (open)" jqe --arg id "$CV" '[.conversations[] | select(.id == $id and .state == "open")] | length == 1' "$T/body"
check "d: with the teammate link (app id_code from GET /me)" jqe --arg id "$CV" '.conversations[] | select(.id == $id) | .link | test("^https://app.intercom.com/a/inbox/[A-Za-z0-9_-]+/inbox/conversation/" + $id + "$")' "$T/body"

# ---------------------------------------------------------------- (i)
seed articles '{"title":"Reset your password","body":"<p>Open <b>Settings</b>, then Security.</p>","state":"published"}' >/dev/null
seed articles '{"title":"Password policy (draft)","body":"x","state":"draft"}' >/dev/null
is "i: article search: 200" "$(get "/v1/articles?workspace=acme&q=Password" -H "$AUTH")" 200
is "i: published only, live, text snippet" "$(jq -c '[.source, .query, [.articles[] | .title], .articles[0].snippet]' "$T/body")" '["live","password",["Reset your password"],"Open Settings , then Security."]'
check "i: with its url" jqe '.articles[0].url | startswith("https://")' "$T/body"
is "i: no q: 400" "$(get "/v1/articles?workspace=acme" -H "$AUTH")" 400
is "i: unknown parameter: 400" "$(get "/v1/articles?workspace=acme&q=x&phone=1" -H "$AUTH")" 400
is "i: unknown workspace: 404" "$(get "/v1/articles?workspace=zz&q=x" -H "$AUTH")" 404
is "i: without the token: 401" "$(get "/v1/articles?workspace=acme&q=x")" 401

# ---------------------------------------------------------------- (e)
# Deadline exceeded: Intercom answers in 1.5 s, the client asks for 300 ms.
sim_ctl '{"latency_ms":1500}'
c=$(ctx "workspace=acme&phone=%2B15550001111&deadline_ms=300")
ms=$(ms)
is "e: slow Intercom: 200" "$c" 200
check "e: answered by the deadline (${ms} ms < 1000)" [ "$ms" -lt 1000 ]
is "e: from the cache, each part marked" "$(jq -c '[.source, .sources.contact, .sources.conversations]' "$T/body")" '["cache","cache","cache"]'
is "e: still the right caller" "$(jq -r .contact.id "$T/body")" "$A"
check "e: the cached conversation is there" jqe --arg id "$CV" '[.conversations[].id] | index($id) != null' "$T/body"
sim_ctl '{"latency_ms":0}'
# The late answers still land and refresh the cache: wait for them.
idle() { curl -s -H "$AUTH" "$H/metrics" | grep -q '^callsync_requests_inflight{workspace="acme"} 0$'; }
wait_for "late reads landed" 20 idle
check "e: the late reads refreshed the cache" [ "$(sql "SELECT tickets_at >= unixepoch() - 5 FROM context_cache WHERE contact_id='$A'")" = 1 ]
# The link goes down: new connections refused, kept-alive ones reset.
sim_ctl '{"down":"refuse","p_reset":1}'
ctx "workspace=acme&phone=%2B15550001111" >/dev/null
wait_for "breaker open" 20 sh -c "curl -s -H '$AUTH' $H/healthz | jq -e '.workspaces.acme.state == \"breaker_open\"' >/dev/null"
check "e: /healthz reports the breaker" [ $? -eq 0 ]
# Stale: parts older than context_ttl (5 m) are marked stale.  (After
# the breaker opened: a read on a kept-alive connection may have landed.)
wait_for "reads idle" 20 idle
sql "UPDATE context_cache SET contact_at = contact_at - 3600, updated_at = updated_at - 3600 WHERE contact_id='$A'"
worst=0; allc=1
for i in 1 2 3 4 5 6 7 8 9 10; do
	c=$(ctx "workspace=acme&phone=%2B15550001111")
	ms=$(ms)
	[ "$ms" -gt "$worst" ] && worst=$ms
	[ "$c" = 200 ] && [ "$(jq -r .source "$T/body")" = cache ] || allc=0
done
is "e: outage: 10 answers, all 200 from the cache" "$allc" 1
check "e: outage: slowest answer ${worst} ms < 500 ms" [ "$worst" -lt 500 ]
is "e: outage: still the caller" "$(jq -r .contact.id "$T/body")" "$A"
is "e: an hour-old contact part is stale" "$(jq -r .stale "$T/body")" true
c=$(get "/v1/articles?workspace=acme&q=%20PASSWORD%20" -H "$AUTH")
is "i: outage: the article search from the cache" "$c$(jq -c '[.source, [.articles[] | .title], .stale]' "$T/body")" '200["cache",["Reset your password"],false]'
c=$(get "/v1/articles?workspace=acme&q=refund" -H "$AUTH")
is "i: outage: a search never made: empty, stale" "$c$(jq -c '[.source, .articles, .stale]' "$T/body")" '200["cache",[],true]'
check "i: answered at once ($(ms) ms < 500)" [ "$(ms)" -lt 500 ]
sim_ctl '{"down":null,"p_reset":0}'
wait_for "breaker closed" 30 sh -c "curl -s -H '$AUTH' $H/healthz | jq -e '.workspaces.acme.state != \"breaker_open\"' >/dev/null"

# ---------------------------------------------------------------- (g)
# beta's token is rejected: paused; its answers are its own cache (empty),
# never acme's data, even for acme's caller.
wait_for "beta paused" 20 sh -c "curl -s -H '$AUTH' $H/healthz | jq -e '.workspaces.beta.state == \"paused\"' >/dev/null"
is "g: paused workspace: 200" "$(ctx "workspace=beta&phone=%2B15550001111")" 200
ms=$(ms)
is "g: beta never shows acme's caller" "$(jq -c '[.workspace, .contact, .source]' "$T/body")" '["beta",null,"cache"]'
check "g: paused: answered at once (${ms} ms < 500)" [ "$ms" -lt 500 ]

# ---------------------------------------------------------------- (f)
# A rate-limited backlog (1800/min at the simulator: 300 a window, about
# 1200 requests to drain), then contexts in the middle of it: 8 in a row,
# 7 reads each, well within context_share (50 %) of a window.  The
# deadline (context_deadline_ms, 2500 here) only has to be shorter than
# what a read queued behind the drain waits for: the next 10-s window.
# It is not tighter because a loaded CI machine running the ASan build
# took 801 ms for one live read (a timing bound would test the machine).
gen_calls 200 60 rl >"$T/rl.jsonl"
enqueue_sql "$T/rl.jsonl"
sql_ge() { [ "$(sql "$1")" -ge "$2" ]; }
wait_for "the drain under way" 60 sql_ge "SELECT count(*) FROM outbox WHERE state='done' AND record_key LIKE 'rl%'" 5
d0=$(sql "SELECT count(*) FROM outbox WHERE state='done'")
live=0; worst=0
for i in 1 2 3 4 5 6 7 8; do
	ctx "workspace=acme&phone=%2B15550001111" >/dev/null
	ms=$(ms)
	[ "$ms" -gt "$worst" ] && worst=$ms
	[ "$(jq -r .sources.contact "$T/body")" = live ] && live=$((live + 1))
done
pend=$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')")
diag "contention: $live/8 live, slowest ${worst} ms, $pend records still open"
check "f: backlog still open while the contexts were asked ($pend)" [ "$pend" -gt 0 ]
is "f: every context read live ahead of the backlog" "$live" 8
check "f: each within the deadline (${worst} ms <= 2600)" [ "$worst" -le 2600 ]
wait_for "the drain goes on" 60 sql_ge "SELECT count(*) FROM outbox WHERE state='done'" $((d0 + 5))
check "f: the drain goes on meanwhile" [ $? -eq 0 ]
get /metrics -H "$AUTH" >/dev/null
cp "$T/body" "$T/metrics"
check "f: metrics: context requests counted" grep -q '^callsync_requests_sent_total{workspace="acme",class="context"} [1-9]' "$T/metrics"
check "f: metrics: drain requests counted" grep -q '^callsync_requests_sent_total{workspace="acme",class="drain"} [1-9]' "$T/metrics"
is "f: metrics: no warm-up reads (context_warm is off by default)" "$(sed -n 's/^callsync_requests_sent_total{workspace="acme",class="warm"} //p' "$T/metrics")" 0
check "f: metrics: answers by source (cache)" grep -q '^callsync_context_answers_total{workspace="acme",source="cache"} [1-9]' "$T/metrics"
check "f: metrics: answers by source (partial)" grep -q '^callsync_context_answers_total{workspace="acme",source="partial"} [1-9]' "$T/metrics"
check "f: metrics: answers by source (live)" grep -q '^callsync_context_answers_total{workspace="acme",source="live"} [1-9]' "$T/metrics"
check "f: metrics: latency histogram" grep -q '^callsync_context_duration_seconds_count{workspace="acme"} [1-9]' "$T/metrics"
if have promtool; then
	promtool check metrics <"$T/metrics" >"$T/pc.out" 2>&1
	is "f: promtool check metrics: no problem" "$?" 0
	sed 's/^/# /' "$T/pc.out" | head -5
fi

# ---------------------------------------------------------------- (h)
cs context --json --phone +15550001111 >/dev/null 2>&1
is "h: two workspaces and no --workspace: usage (exit 2)" "$?" 2
cs context --json --workspace acme --phone +15550001111 >"$T/cli.json" 2>"$T/cli.err"
is "h: callsync context (worker up): exit 0" "$?" 0
is "h: the same caller as the API" "$(jq -r .contact.id "$T/cli.json")" "$A"
check "h: no fallback note" sh -c "! grep -q 'local cache' '$T/cli.err'"
cs context --workspace acme --email nobody@example.com >"$T/cli2.txt" 2>&1
check "h: text form says unknown caller" grep -q "unknown caller" "$T/cli2.txt"
stop_worker
cs context --json --workspace acme --phone +15550001111 >"$T/cli3.json" 2>"$T/cli3.err"
is "h: worker stopped: exit 0 all the same" "$?" 0
check "h: says it answers from the local cache" grep -q "answering from the local cache" "$T/cli3.err"
is "h: from the cache: same caller, source cache" "$(jq -c '[.contact.id, .source]' "$T/cli3.json")" "[\"$A\",\"cache\"]"
cs context --workspace acme --phone abc >/dev/null 2>&1
is "h: a bad phone: usage (exit 2)" "$?" 2
cs doctor >"$T/doc.out" 2>&1
check "h: doctor reports the cache size" grep -q "caller context cache holds [1-9][0-9]* entries" "$T/doc.out"
sql "UPDATE context_cache SET updated_at = updated_at - 40 * 86400 WHERE contact_id='$A'"
cs prune --older-than 3650d >"$T/prune.out" 2>&1
check "h: prune deletes contexts past context_max_age" grep -q "pruned [1-9][0-9]* cached caller contexts" "$T/prune.out"
is "h: the old entry is gone" "$(sql "SELECT count(*) FROM context_cache WHERE contact_id='$A'")" 0

# ---------------------------------------------------------------- (g)
leak=0
for f in "$T"/b.* "$T"/cli*.json "$T"/cli*.err "$T"/w.log; do
	grep -q -e "$LTOKEN" -e "$SIM_TOKEN" -e "beta-wrong-token" "$f" && { leak=1; diag "token in $f"; }
done
is "g: no token in any answer, CLI output or log" "$leak" 0
other=0
for f in "$T"/b.*; do
	w=$(jq -r '.workspace? // empty' "$f" 2>/dev/null)
	[ -n "$w" ] && [ "$w" != acme ] && jq -e '.contact != null' "$f" >/dev/null 2>&1 && other=1
done
is "g: no answer of another workspace carries a contact" "$other" 0
echo "1..$TAPN"
