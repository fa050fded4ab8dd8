#!/bin/sh
# 14_sim_context.sh: intercom-sim's caller-context endpoints (issue 16):
# conversation search by contact and state with sort and pagination,
# state changes, tickets and their search, companies attached to
# contacts, article search, the /_sim/ fixtures, and the fault layer on
# these paths (per-path latency, fault_paths, 429, outage).
. "$(dirname "$0")/lib.sh"
. "$ROOT/sim/simtest.sh"
t_setup
sim_start || { not_ok "sim_start"; exit 1; }

# ids "a,b" of the last search answer, in order
ids() { body "[.$1[].id]|join(\",\")"; }
search() { api POST "$1" -d "$2"; }

# --- fixtures: two contacts, five conversations with known updated_at
is "seed contact ann" "$(ctl POST /_sim/contacts '{"role":"user","email":"ann@example.com","phone":"+14155550100","name":"Ann"}')" 200
ANN=$(body .id)
is "seed contact bob" "$(ctl POST /_sim/contacts '{"role":"user","email":"bob@example.com"}')" 200
BOB=$(body .id)
conv() {
	ctl POST /_sim/conversations "{\"contact_ids\":[\"$1\"],\"body\":\"<p>$2</p>\",\"state\":\"$3\",\"updated_at\":$4,\"created_at\":1000,\"admin_assignee_id\":1002$5}" >/dev/null
	body .id
}
C1=$(conv "$ANN" "invoice one" open 1700001000)
C2=$(conv "$ANN" "invoice two" closed 1700003000)
C3=$(conv "$ANN" "shipping" snoozed 1700002000 ',"snoozed_until":1900000000')
C4=$(conv "$ANN" "refund" open 1700004000 ',"team_assignee_id":2002,"parts":[{"body":"<p>We refunded you.</p>","created_at":1700003900}]')
C5=$(conv "$BOB" "other caller" open 1700005000)
is "five seeded conversations" "$(sim_state | jq '[.conversations[]|select(.searchable)]|length')" 5
is "seed: unknown contact 400" "$(ctl POST /_sim/conversations '{"contact_ids":["0123456789abcdef01234567"],"body":"x"}')" 400
is "seed: bad state 400" "$(ctl POST /_sim/conversations "{\"contact_ids\":[\"$ANN\"],\"state\":\"pending\"}")" 400
is "failed seeds created nothing" "$(sim_state | jq '.conversations|length')" 5

# --- conversation search by contact, state, dates; sort; pagination
# f FIELD OP JSON: one filter; grp AND|OR Q...: a group of them
f() { printf '{"field":"%s","operator":"%s","value":%s}' "$1" "$2" "$3"; }
grp() { _op=$1; shift; printf '{"operator":"%s","value":[%s]}' "$_op" "$(IFS=,; echo "$*")"; }
# csearch QUERY [MORE]: conversation search; prints the ids, in order
csearch() { search /conversations/search "{\"query\":$1${2:-}}" >/dev/null; ids conversations; }
DESC=',"sort":{"field":"updated_at","order":"descending"}'
BYANN=$(f contact_ids = "\"$ANN\"")
is "search by contact" "$(search /conversations/search "{\"query\":$BYANN}")" 200
is "only ann's, creation order without sort" "$(ids conversations)" "$C1,$C2,$C3,$C4"
is "total_count" "$(body .total_count)" 4
is "sort updated_at descending" "$(csearch "$BYANN" "$DESC")" "$C4,$C2,$C3,$C1"
is "sort updated_at ascending" "$(csearch "$BYANN" ',"sort":{"field":"updated_at","order":"ascending"}')" "$C1,$C3,$C2,$C4"
is "order defaults to descending" "$(csearch "$BYANN" ',"sort":{"field":"updated_at"}')" "$C4,$C2,$C3,$C1"
is "contact AND state=open, most recent first" "$(csearch "$(grp AND "$BYANN" "$(f state = '"open"')")" "$DESC")" "$C4,$C1"
is "open=false" "$(csearch "$(grp AND "$BYANN" "$(f open = false)")")" "$C2,$C3"
is "nested AND/OR on state" "$(csearch "$(grp AND "$BYANN" "$(grp OR "$(f state = '"closed"')" "$(f state = '"snoozed"')")")")" "$C2,$C3"
is "updated_at >" "$(csearch "$(grp AND "$BYANN" "$(f updated_at '>' 1700002500)")")" "$C2,$C4"
is "state IN across contacts" "$(csearch "$(f state IN '["open","snoozed"]')" "$DESC")" "$C5,$C4,$C3,$C1"
csearch "$BYANN" "$DESC"',"pagination":{"per_page":3}' >/dev/null
is "page 1 of 2" "$(ids conversations) $(body .pages.page)/$(body .pages.total_pages)" "$C4,$C2,$C3 1/2"
CUR=$(body .pages.next.starting_after)
csearch "$BYANN" "$DESC,\"pagination\":{\"per_page\":3,\"starting_after\":\"$CUR\"}" >/dev/null
is "page 2 continues the order, no next" "$(ids conversations) $(body '.pages.next // "none"')" "$C1 none"
is "bad sort order 400" "$(search /conversations/search "{\"query\":$BYANN,\"sort\":{\"field\":\"updated_at\",\"order\":\"desc\"}}")" 400
is "bad sort order code" "$(body '.errors[0].code')" invalid_sort_order
is "unsortable field 400" "$(search /conversations/search "{\"query\":$BYANN,\"sort\":{\"field\":\"contact_ids\"}}")" 400
csearch "$(f id = "\"$C4\"")" >/dev/null
is "list item fields" "$(body '.conversations[0]|[.state,(.open|tostring),(.updated_at|tostring),(.admin_assignee_id|tostring),(.team_assignee_id|tostring),.source.body,(has("conversation_parts")|tostring)]|join(" ")')" \
    "open true 1700004000 1002 2002 <p>refund</p> false"
is "GET conversation has the seeded part" "$(api GET /conversations/$C4)" 200
is "part body" "$(body '.conversation_parts.conversation_parts[-1].body+" "+(.conversation_parts.total_count|tostring)')" "<p>We refunded you.</p> 1"

# --- state changes through the API move a conversation in search
is "close C4 via parts" "$(api POST /conversations/$C4/parts -d '{"message_type":"close","type":"admin","admin_id":"1001"}')" 200
OPEN_ANN=$(grp AND "$BYANN" "$(f state = '"open"')")
is "closed C4 left the open set" "$(csearch "$OPEN_ANN")" "$C1"
is "reopen C2" "$(api POST /conversations/$C2/parts -d '{"message_type":"open","type":"admin","admin_id":"1001"}')" 200
is "a reopened conversation is open and the most recent" "$(csearch "$OPEN_ANN" "$DESC")" "$C2,$C1"
is "fixture change by id" "$(ctl POST /_sim/conversations "{\"id\":\"$C2\",\"updated_at\":1600000000,\"state\":\"snoozed\"}")" 200
csearch "$BYANN" ',"sort":{"field":"updated_at","order":"ascending"},"pagination":{"per_page":1}' >/dev/null
is "changed fixture sorts oldest" "$(ids conversations) $(body '.conversations[0].state')" "$C2 snoozed"

# --- tickets
is "create ticket" "$(api POST /tickets -d "{\"ticket_type_id\":\"3002\",\"contacts\":[{\"id\":\"$ANN\"}],\"ticket_attributes\":{\"_default_title_\":\"Invoice is wrong\",\"_default_description_\":\"Charged twice\"}}")" 200
T1=$(body .id)
is "ticket shape" "$(body '[.type,.ticket_type.name,.ticket_state.category,(.open|tostring),.contacts.contacts[0].id,.ticket_attributes._default_title_]|join("|")')" \
    "ticket|Billing question|submitted|true|$ANN|Invoice is wrong"
is "seed resolved ticket" "$(ctl POST /_sim/tickets "{\"contact_ids\":[\"$ANN\"],\"ticket_type_id\":\"3001\",\"state\":\"resolved\",\"ticket_attributes\":{\"_default_title_\":\"App crash\"},\"created_at\":1700000000,\"updated_at\":1700000100}")" 200
T2=$(body .id)
is "seeded resolved is closed" "$(body '.open')" false
is "seed bob's ticket" "$(ctl POST /_sim/tickets "{\"contact_ids\":[\"$BOB\"],\"state\":\"in_progress\",\"created_at\":1700000500}")" 200
T3=$(body .id)
# tsearch QUERY [MORE]: ticket search; prints the ids, in order
tsearch() { search /tickets/search "{\"query\":$1${2:-}}" >/dev/null; ids tickets; }
TBYANN=$BYANN
is "ticket search by contact" "$(search /tickets/search "{\"query\":$TBYANN}")" 200
is "ann's tickets" "$(ids tickets) $(body .total_count) $(body .type)" "$T1,$T2 2 ticket.list"
OPEN_TANN=$(grp AND "$TBYANN" "$(f open = true)")
is "ann's open tickets" "$(tsearch "$OPEN_TANN")" "$T1"
is "state IN, sorted by created_at" "$(tsearch "$(f state IN '["submitted","in_progress"]')" ',"sort":{"field":"created_at","order":"ascending"}')" "$T3,$T1"
is "search on title" "$(tsearch "$(f title '~' '"invoice"')")" "$T1"
tsearch "$TBYANN" ',"pagination":{"per_page":1}' >/dev/null
is "ticket pagination" "$(ids tickets) $(body '.pages.next.starting_after|length>0')" "$T1 true"
is "ticket search: unknown field 400" "$(search /tickets/search '{"query":{"field":"nope","operator":"=","value":1}}')" 400
is "GET ticket" "$(api GET /tickets/$T2)" 200
is "GET ticket fields" "$(body '.ticket_attributes._default_title_+" "+.ticket_type.id+" "+.ticket_state.id')" "App crash 3001 4004"
is "GET unknown ticket 404" "$(api GET /tickets/999)" 404
is "resolve via PUT" "$(api PUT /tickets/$T1 -d '{"ticket_state_id":"4004"}')" 200
is "resolved: closed, previous state kept" "$(body '(.open|tostring)+" "+.ticket_state.category+" "+.previous_ticket_state_id')" "false resolved 4001"
tsearch "$OPEN_TANN" >/dev/null
is "no open tickets left for ann" "$(body .total_count)" 0
is "reopen via PUT open:true" "$(api PUT /tickets/$T1 -d '{"open":true}'; body '(.open|tostring)+" "+.ticket_state.category')" "200true submitted"
is "close via PUT open:false" "$(api PUT /tickets/$T1 -d '{"open":false}'; body '(.open|tostring)+" "+.ticket_state.category')" "200false resolved"
is "PUT unknown state 400" "$(api PUT /tickets/$T1 -d '{"ticket_state_id":"9"}')" 400
NT=$(sim_state | jq '.tickets|length')
is "seed: bad ticket state 400" "$(ctl POST /_sim/tickets "{\"contact_ids\":[\"$ANN\"],\"state\":\"done\"}")" 400
is "seed: ticket without contacts 400" "$(ctl POST /_sim/tickets '{"state":"submitted"}')" 400
is "failed ticket seeds created nothing" "$(sim_state | jq '.tickets|length')" "$NT"
is "ticket without type 400" "$(api POST /tickets -d "{\"contacts\":[{\"id\":\"$ANN\"}]}")" 400
is "ticket for unknown contact 404" "$(api POST /tickets -d '{"ticket_type_id":"3001","contacts":[{"id":"0123456789abcdef01234567"}]}')" 404
sim_ctl '{"search_lag_s":30}'
api POST /tickets -d "{\"ticket_type_id\":\"3001\",\"contacts\":[{\"email\":\"ann@example.com\"}]}" >/dev/null
T4=$(body .id)
tsearch "$(f id = "\"$T4\"")" >/dev/null
is "new ticket hidden by the search lag" "$(body .total_count) $(api GET /tickets/$T4)" "0 200"
sim_ctl '{"search_lag_s":0}'

# --- companies
is "create company" "$(api POST /companies -d '{"company_id":"acme-1","name":"Acme","plan":"Enterprise","monthly_spend":4200,"custom_attributes":{"csm":"Dana"}}')" 200
CO=$(body .id)
is "company shape" "$(body '[.type,.name,.plan.name,(.monthly_spend|tostring),.custom_attributes.csm]|join("|")')" "company|Acme|Enterprise|4200|Dana"
is "same company_id updates" "$(api POST /companies -d '{"company_id":"acme-1","monthly_spend":5000.9}')" 200
is "update kept the id, truncated spend" "$(body '.id+" "+(.monthly_spend|tostring)+" "+.name')" "$CO 5000 Acme"
is "attach to ann" "$(api POST /contacts/$ANN/companies -d "{\"id\":\"$CO\"}")" 200
is "attach twice" "$(api POST /contacts/$ANN/companies -d "{\"id\":\"$CO\"}")" 200
is "list ann's companies" "$(api GET /contacts/$ANN/companies)" 200
is "attached once, full object" "$(body '[.type,(.total_count|tostring),.companies[0].name,.companies[0].plan.name,(.companies[0].monthly_spend|tostring),.companies[0].custom_attributes.csm,(.companies[0].user_count|tostring)]|join("|")')" \
    "list|1|Acme|Enterprise|5000|Dana|1"
api GET /contacts/$ANN >/dev/null
is "contact embeds the company" "$(body '.companies.total_count|tostring') $(body '.companies.data[0].id')" "1 $CO"
sim_ctl '{"companies_key":"data"}'
api GET /contacts/$ANN/companies >/dev/null
is "companies_key data" "$(body '.data[0].id') $(body 'has("companies")')" "$CO false"
sim_ctl '{"companies_key":"companies"}'
is "GET company" "$(api GET /companies/$CO)" 200
is "GET unknown company 404" "$(api GET /companies/0123456789abcdef01234567)" 404
is "attach unknown company 404" "$(api POST /contacts/$ANN/companies -d '{"id":"nope"}')" 404
is "companies of unknown contact 404" "$(api GET /contacts/0123456789abcdef01234567/companies)" 404
is "bob has none" "$(api GET /contacts/$BOB/companies) $(body '.total_count')" "200 0"
is "seed company attached to bob" "$(ctl POST /_sim/companies "{\"name\":\"Bobco\",\"plan\":\"Starter\",\"monthly_spend\":10,\"contact_ids\":[\"$BOB\"]}")" 200
api GET /contacts/$BOB/companies >/dev/null
is "bob's seeded company" "$(body '.companies[0].name+" "+.companies[0].plan.name')" "Bobco Starter"
is "company needs company_id or name" "$(api POST /companies -d '{"plan":"x"}')" 400
is "bad monthly_spend 400" "$(api POST /companies -d '{"name":"x","monthly_spend":"lots"}')" 400
is "seed: bad company 400" "$(ctl POST /_sim/companies '{"name":"x","custom_attributes":{"a":[1]}}')" 400
is "failed company writes created nothing" "$(sim_state | jq '.companies|length')" 2
is "unknown fixture kind 404" "$(ctl POST /_sim/widgets '{}')" 404

# --- a merge carries tickets and companies to the surviving contact
is "seed lead lee" "$(ctl POST /_sim/contacts '{"role":"lead","phone":"+14155550100"}')" 200
LEE=$(body .id)
ctl POST /_sim/tickets "{\"contact_ids\":[\"$LEE\"],\"ticket_attributes\":{\"_default_title_\":\"Lead ticket\"}}" >/dev/null
TL=$(body .id)
ctl POST /_sim/companies "{\"name\":\"Leeco\",\"contact_ids\":[\"$LEE\"]}" >/dev/null
COL=$(body .id)
is "merge lee into ann" "$(api POST /contacts/merge -d "{\"from\":\"$LEE\",\"into\":\"$ANN\"}")" 200
is "lee's ticket is ann's now" "$(tsearch "$(f id = "\"$TL\"")" >/dev/null; body '.tickets[0].contacts.contacts[0].id')" "$ANN"
api GET /contacts/$ANN/companies >/dev/null
is "lee's company is attached to ann" "$(body '[.companies[].id]|join(",")')" "$CO,$COL"
is "ticket for a new email creates a lead" "$(api POST /tickets -d '{"ticket_type_id":"3003","contacts":[{"email":"new@example.com"}]}')" 200
is "the new lead" "$(sim_state | jq -r '.contacts[]|select(.email=="new@example.com")|.role')" lead

# --- articles
is "create article" "$(api POST /articles -d '{"title":"How to reset your password","author_id":1001,"body":"<p>Open <b>settings</b>, then security.</p>","state":"published"}')" 200
A1=$(body .id)
is "seed published article" "$(ctl POST /_sim/articles '{"title":"Billing FAQ","body":"<p>Invoices and your password for the billing portal.</p>","state":"published"}')" 200
A2=$(body .id)
is "seed draft article" "$(ctl POST /_sim/articles '{"title":"Password policy (draft)","state":"draft"}')" 200
A3=$(body .id)
is "seed: bad article state 400" "$(ctl POST /_sim/articles '{"title":"x","state":"live"}')" 400
is "article by a non-admin 400" "$(api POST /articles -d '{"title":"x","author_id":42}')" 400
is "failed article writes created nothing" "$(sim_state | jq '.articles|length')" 3
is "article without author 400" "$(api POST /articles -d '{"title":"x"}')" 400
is "article search" "$(api GET '/articles/search?phrase=reset%20password&state=published')" 200
is "every word must match" "$(body '[.type,(.total_count|tostring)]|join(" ")') $(body '[.data.articles[].id]|join(",")')" "list 1 $A1"
is "published article has a url" "$(body '.data.articles[0].url|test("^https://")')" true
api GET '/articles/search?phrase=password&state=published' >/dev/null
is "title matches first, body matches next" "$(body '[.data.articles[].id]|join(",")')" "$A1,$A2"
api GET '/articles/search?phrase=PASSWORD&state=all' >/dev/null
is "state=all includes drafts, case-insensitive" "$(body '.total_count')" 3
api GET '/articles/search?phrase=settings&state=published' >/dev/null
is "markup is not text, its content is" "$(body '[.data.articles[].id]|join(",")')" "$A1"
api GET '/articles/search?phrase=span&state=published' >/dev/null
is "tag names do not match" "$(body '.total_count')" 0
is "bad state 400" "$(api GET '/articles/search?phrase=x&state=live')" 400

# --- the fault layer on these endpoints
sim_ctl '{"latency_paths":{"/tickets/search":1500}}'
SLOW=$(curl -s -o /dev/null -w '%{time_total}' -X POST -H "Authorization: Bearer $SIM_TOKEN" \
    -H 'Content-Type: application/json' -d "{\"query\":$TBYANN}" "$SIM_URL/tickets/search")
FAST=$(curl -s -o /dev/null -w '%{time_total}' -X POST -H "Authorization: Bearer $SIM_TOKEN" \
    -H 'Content-Type: application/json' -d "{\"query\":$BYANN}" "$SIM_URL/conversations/search")
diag "latency_paths: tickets/search ${SLOW}s, conversations/search ${FAST}s"
check "one slow path (>= 1.4 s)" awk "BEGIN{exit !($SLOW >= 1.4)}"
check "other paths fast (< 1 s)" awk "BEGIN{exit !($FAST < 1.0)}"
is "a client deadline gives up on the slow path" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 0.5 -X POST -H "Authorization: Bearer $SIM_TOKEN" -d "{\"query\":$TBYANN}" "$SIM_URL/tickets/search")" 000
sim_ctl '{"latency_paths":null,"fault_paths":"/companies","p_5xx":1}'
CODE=$(api GET /contacts/$ANN/companies)
check "fault_paths: companies answer 5xx ($CODE)" [ "$CODE" -ge 500 ]
is "fault_paths: tickets unaffected" "$(api GET /tickets/$T1)" 200
sim_ctl '{"fault_paths":"/articles/search","p_5xx":0,"p_stall":1}'
is "stalled article search times out" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 0.5 -H "Authorization: Bearer $SIM_TOKEN" "$SIM_URL/articles/search?phrase=x")" 000
sim_ctl '{"fault_paths":null,"p_stall":0,"down":"refuse"}'
is "outage refuses ticket search" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST -d '{}' "$SIM_URL/tickets/search")" 000
sim_ctl '{"down":null,"rate_limit":6}'
n=0; got=""
while [ $n -lt 3 ] && [ "$got" != 429 ]; do got=$(api GET "/articles/search?phrase=x"); n=$((n + 1)); done
is "rate limit: article search answers 429" "$got" 429
is "429 carries rate-limit headers" "$(hdr X-RateLimit-Limit)/$(hdr X-RateLimit-Remaining)" "1/0"
sim_ctl '{"rate_limit":0}'
wait_for "state counts faults on the new endpoints" \
    '.faults["5xx"] >= 1 and .faults.stall >= 1 and .faults.rate_limited >= 1 and (.requests.by_endpoint["POST /tickets/search"]["200"] >= 5) and (.requests.by_endpoint["GET /articles/search"]["429"] >= 1)'

# --- the --latency-path flag: one endpoint slow from the start
sim_stop
is "the simulator exited clean (no sanitizer report)" "$(grep -c 'Sanitizer' "$T/sim.log")" 0
is "bad --latency-path refused" "$("$BIN/intercom-sim" --token x --latency-path nope >/dev/null 2>&1; echo $?)" 1
sim_start --latency-path /articles/search=800 || { not_ok "sim_start --latency-path"; exit 1; }
is "flag shows in the controls" "$(ctl GET /_sim/control; jq -c .latency_paths "$T/body")" '200{"/articles/search":800}'
SLOW=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $SIM_TOKEN" "$SIM_URL/articles/search?phrase=x")
FAST=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $SIM_TOKEN" "$SIM_URL/me")
diag "--latency-path: articles/search ${SLOW}s, me ${FAST}s"
check "flag: the path is slow (>= 0.75 s)" awk "BEGIN{exit !($SLOW >= 0.75)}"
check "flag: others are not (< 0.5 s)" awk "BEGIN{exit !($FAST < 0.5)}"
is "reset" "$(ctl POST /_sim/reset)" 200
is "reset empties the new stores" "$(sim_state | jq -c '[(.companies|length),(.tickets|length),(.articles|length)]')" '[0,0,0]'
