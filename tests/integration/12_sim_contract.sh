#!/bin/sh
# 12_sim_contract.sh: contract test of intercom-sim against Intercom's
# OpenAPI 2.16 description, through Stoplight Prism in proxy mode
# (../shared/intercom-openapi/PRISM.md).  Prism answers a request that
# violates the description with 422 and an answer that violates it with
# 500, both as application/problem+json; every request the callsync
# worker makes is sent once through it, and the bar is zero violations.
# Prism 5.14.2 is installed with npm into a cache outside the repository
# (reused); without the shared spec or npm the test is skipped, loudly.
. "$(dirname "$0")/lib.sh"
. "$ROOT/sim/simtest.sh"

prism_install 12_sim_contract

t_setup
sim_start || { not_ok "sim_start"; exit 1; }

# A free port for Prism: bind 0, read it back, release it.
PPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
    echo $((20000 + $$ % 20000)))
"$PRISM" proxy --errors -v error -p "$PPORT" "$SPEC" "$SIM_URL" \
    >"$T/prism.log" 2>&1 &
PRISM_PID=$!
PIDS="$PIDS $PRISM_PID"
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PPORT/me"; do
	i=$((i + 1))
	if [ $i -gt 600 ] || ! kill -0 "$PRISM_PID" 2>/dev/null; then
		not_ok "prism started"
		sed 's/^/# /' "$T/prism.log" | tail -n 20
		exit 1
	fi
	sleep 0.1
done
ok "prism proxy started on port $PPORT"
# Prism has its own processes: kill its group on exit too.
trap 'kill $PRISM_PID 2>/dev/null; t_cleanup' EXIT INT TERM

CHECKED=0
VIOLATIONS=0
# pc "desc" WANT METHOD PATH [JSON]: one request through Prism.
pc() {
	_d=$1; _want=$2; _m=$3; _p=$4
	CHECKED=$((CHECKED + 1))
	if [ -n "${5:-}" ]; then
		_code=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$_m" \
		    -H "Authorization: Bearer $SIM_TOKEN" -H 'Intercom-Version: 2.16' \
		    -H 'Accept: application/json' -H 'Content-Type: application/json' \
		    -d "$5" "http://127.0.0.1:$PPORT$_p")
	else
		_code=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$_m" \
		    -H "Authorization: Bearer $SIM_TOKEN" -H 'Intercom-Version: 2.16' \
		    -H 'Accept: application/json' "http://127.0.0.1:$PPORT$_p")
	fi
	if hdr Content-Type | grep -qi 'problem+json'; then
		VIOLATIONS=$((VIOLATIONS + 1))
		not_ok "$_d: $_m $_p: Prism reports a violation ($_code)"
		jq -r '(.title // ""), (.detail // ""),
		    ((.validation // [])[] | "\(.location|join(".")): \(.message)")' \
		    "$T/body" 2>/dev/null | head -n 15 | sed 's/^/# /'
	elif [ "$_code" != "$_want" ]; then
		not_ok "$_d: $_m $_p: status $_code, want $_want"
		head -c 300 "$T/body" | sed 's/^/# /'; echo
	else
		ok "$_d: $_m $_p $_code"
	fi
}

pc "me" 200 GET /me
pc "admins" 200 GET /admins
pc "teams" 200 GET /teams
pc "create data attribute" 200 POST /data_attributes \
    '{"name":"plan_interest","model":"contact","data_type":"string"}'
pc "existing data attribute" 400 POST /data_attributes \
    '{"name":"plan_interest","model":"contact","data_type":"string"}'
pc "list data attributes" 200 GET '/data_attributes?model=contact'
pc "search by phone" 200 POST /contacts/search \
    '{"query":{"field":"phone","operator":"=","value":"+14155550100"},"pagination":{"per_page":5}}'
pc "search by email (AND)" 200 POST /contacts/search \
    '{"query":{"operator":"AND","value":[{"field":"email","operator":"=","value":"ann@example.com"},{"field":"role","operator":"=","value":"user"}]}}'
pc "create lead" 200 POST /contacts \
    '{"role":"lead","phone":"+14155550100","name":"Caller","custom_attributes":{"plan_interest":"pro"}}'
LEAD=$(body .id)
pc "create user" 200 POST /contacts \
    '{"role":"user","email":"ann@example.com","phone":"+14155550100","external_id":"crm-7"}'
USER=$(body .id)
pc "duplicate (409)" 409 POST /contacts '{"role":"user","email":"ANN@example.com"}'
pc "search finds both" 200 POST /contacts/search \
    '{"query":{"operator":"OR","value":[{"field":"phone","operator":"=","value":"+14155550100"},{"field":"email","operator":"=","value":"ann@example.com"}]},"pagination":{"per_page":1}}'
pc "search page 2" 200 POST /contacts/search \
    "{\"query\":{\"field\":\"phone\",\"operator\":\"=\",\"value\":\"+14155550100\"},\"pagination\":{\"per_page\":1,\"starting_after\":\"$(body .pages.next.starting_after)\"}}"
pc "get contact" 200 GET "/contacts/$USER"
pc "update custom attributes" 200 PUT "/contacts/$USER" \
    '{"name":"Ann","custom_attributes":{"plan_interest":"enterprise"}}'
pc "conversation" 200 POST /conversations \
    "{\"from\":{\"type\":\"lead\",\"id\":\"$LEAD\"},\"body\":\"Voice call summary: wants a callback\"}"
pc "merge lead into user" 200 POST /contacts/merge "{\"from\":\"$LEAD\",\"into\":\"$USER\"}"
pc "merged contact (410)" 410 GET "/contacts/$LEAD"
pc "conversation as user" 200 POST /conversations \
    "{\"from\":{\"type\":\"user\",\"id\":\"$USER\"},\"body\":\"Second call: billing question\",\"created_at\":1700000000}"
CONV=$(body .conversation_id)
pc "get conversation" 200 GET "/conversations/$CONV"
pc "search conversations" 200 POST /conversations/search \
    "{\"query\":{\"operator\":\"AND\",\"value\":[{\"field\":\"contact_ids\",\"operator\":\"=\",\"value\":\"$USER\"},{\"field\":\"source.body\",\"operator\":\"=\",\"value\":\"billing\"}]}}"
pc "note" 200 POST "/conversations/$CONV/reply" \
    '{"message_type":"note","type":"admin","admin_id":"1001","body":"<p>Transcript summary</p>"}'
pc "comment" 200 POST "/conversations/$CONV/reply" \
    '{"message_type":"comment","type":"admin","admin_id":"1001","body":"We will call you back."}'
pc "assign team" 200 POST "/conversations/$CONV/parts" \
    '{"message_type":"assignment","type":"team","admin_id":"1001","assignee_id":"2001"}'
pc "assign admin" 200 POST "/conversations/$CONV/parts" \
    '{"message_type":"assignment","type":"admin","admin_id":"1001","assignee_id":"1002"}'
pc "close" 200 POST "/conversations/$CONV/parts" \
    '{"message_type":"close","type":"admin","admin_id":"1001"}'
pc "create tag" 200 POST /tags '{"name":"voice-ai"}'
TAG=$(body .id)
pc "list tags" 200 GET /tags
pc "tag conversation" 200 POST "/conversations/$CONV/tags" "{\"id\":\"$TAG\",\"admin_id\":\"1001\"}"
pc "conversation with tag and parts" 200 GET "/conversations/$CONV"
pc "untag conversation" 200 DELETE "/conversations/$CONV/tags/$TAG" '{"admin_id":"1001"}'
# Caller context (issue 16): conversation search by contact and state
# with sort and pagination, tickets, companies, articles.
pc "conversations of a contact, open, most recent first" 200 POST /conversations/search \
    "{\"query\":{\"operator\":\"AND\",\"value\":[{\"field\":\"contact_ids\",\"operator\":\"=\",\"value\":\"$USER\"},{\"field\":\"state\",\"operator\":\"IN\",\"value\":[\"open\",\"closed\",\"snoozed\"]}]},\"sort\":{\"field\":\"updated_at\",\"order\":\"descending\"},\"pagination\":{\"per_page\":1}}"
pc "conversations page 2" 200 POST /conversations/search \
    "{\"query\":{\"field\":\"contact_ids\",\"operator\":\"=\",\"value\":\"$USER\"},\"sort\":{\"field\":\"updated_at\",\"order\":\"descending\"},\"pagination\":{\"per_page\":1,\"starting_after\":\"$(body .pages.next.starting_after)\"}}"
pc "conversations updated since" 200 POST /conversations/search \
    '{"query":{"operator":"AND","value":[{"field":"updated_at","operator":">","value":1600000000},{"field":"open","operator":"=","value":false}]}}'
pc "snooze" 200 POST "/conversations/$CONV/parts" \
    '{"message_type":"snoozed","type":"admin","admin_id":"1001","snoozed_until":1900000000}'
pc "open" 200 POST "/conversations/$CONV/parts" \
    '{"message_type":"open","type":"admin","admin_id":"1001"}'
pc "create ticket" 200 POST /tickets \
    "{\"ticket_type_id\":\"3002\",\"contacts\":[{\"id\":\"$USER\"}],\"ticket_attributes\":{\"_default_title_\":\"Invoice is wrong\",\"_default_description_\":\"Charged twice\"},\"assignment\":{\"team_assignee_id\":\"2002\"}}"
TICKET=$(body .id)
pc "ticket by email" 200 POST /tickets \
    '{"ticket_type_id":"3001","contacts":[{"email":"ann@example.com"}],"ticket_attributes":{"_default_title_":"App crash"}}'
pc "get ticket" 200 GET "/tickets/$TICKET"
pc "resolve ticket" 200 PUT "/tickets/$TICKET" '{"ticket_state_id":"4004"}'
pc "snooze ticket" 200 PUT "/tickets/$TICKET" '{"open":true,"snoozed_until":1900000000}'
pc "tickets of a contact, open" 200 POST /tickets/search \
    "{\"query\":{\"operator\":\"AND\",\"value\":[{\"field\":\"contact_ids\",\"operator\":\"=\",\"value\":\"$USER\"},{\"field\":\"open\",\"operator\":\"=\",\"value\":true}]},\"pagination\":{\"per_page\":1}}"
pc "tickets by state" 200 POST /tickets/search \
    '{"query":{"field":"state","operator":"IN","value":["submitted","in_progress","waiting_on_customer"]}}'
pc "unknown ticket (404)" 404 GET /tickets/999999
pc "create company" 200 POST /companies \
    '{"company_id":"acme-1","name":"Acme","plan":"Enterprise","monthly_spend":4200,"industry":"Retail","website":"https://acme.example","size":40,"custom_attributes":{"csm":"Dana"}}'
COMPANY=$(body .id)
pc "update company" 200 POST /companies '{"company_id":"acme-1","monthly_spend":5000}'
pc "company without plan" 200 POST /companies '{"name":"Bare"}'
pc "attach company" 200 POST "/contacts/$USER/companies" "{\"id\":\"$COMPANY\"}"
pc "contact with company" 200 GET "/contacts/$USER"
pc "companies of a contact" 200 GET "/contacts/$USER/companies"
pc "get company" 200 GET "/companies/$COMPANY"
pc "unknown company (404)" 404 GET /companies/0123456789abcdef01234567
pc "create article" 200 POST /articles \
    '{"title":"How to reset your password","author_id":1001,"body":"<p>Open settings.</p>","description":"Passwords","state":"published"}'
pc "create draft article" 200 POST /articles '{"title":"Password policy","author_id":1002}'
pc "search articles" 200 GET '/articles/search?phrase=reset%20password&state=published'
pc "search articles, all states" 200 GET '/articles/search?phrase=password&state=all&highlight=true'
pc "unknown conversation (404)" 404 GET /conversations/424242
pc "unknown contact (404)" 404 GET /contacts/0123456789abcdef01234567

# The detector itself: a request Prism must reject (no query) is seen.
CHECKED0=$CHECKED; V0=$VIOLATIONS
pc "detector" 400 POST /contacts/search '{"pagination":{"per_page":5}}' >"$T/detector"
is "a bad request is reported by Prism as problem+json" \
    "$(grep -c '^not ok.*violation' "$T/detector")" 1
# ... on the new paths too: a ticket without contacts (a bad request),
# and a company whose custom attribute is a number where 2.16 says
# string (a bad answer: seeded through the control port, read through
# Prism).
pc "detector: ticket" 400 POST /tickets '{"ticket_type_id":"3001"}' >"$T/detector"
SEEDED=$(curl -s -X POST -H 'Content-Type: application/json' \
    -d '{"name":"Numeric","custom_attributes":{"seats":5}}' "$SIM_CTL/_sim/companies" | jq -r .id)
pc "detector: company" 200 GET "/companies/$SEEDED" >>"$T/detector"
is "bad requests and answers on the new paths are reported" \
    "$(grep -c '^not ok.*violation' "$T/detector")" 2
CHECKED=$CHECKED0; VIOLATIONS=$V0

diag "contract: $CHECKED requests checked through Prism, $VIOLATIONS violations"
is "no contract violations" "$VIOLATIONS" 0
