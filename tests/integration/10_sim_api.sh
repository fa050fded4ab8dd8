#!/bin/sh
# 10_sim_api.sh: intercom-sim endpoints: happy paths, Intercom's errors,
# 409 with id=, merge then 410 + Link, search grammar and pagination,
# search lag, rate limit headers and 429, /_sim/state counts.
. "$(dirname "$0")/lib.sh"
. "$ROOT/sim/simtest.sh"
t_setup
sim_start --attributes plan_interest,score:integer || { not_ok "sim_start"; exit 1; }

# --- admins, teams, auth, headers
is "GET /me" "$(api GET /me)" 200
is "/me is the token's admin" "$(body '.type+" "+.id+" "+.name+" "+.app.region')" "admin 1001 Voice AI US"
is "GET /admins" "$(api GET /admins)" 200
is "admins" "$(body '[.type]+[.admins[].id]|join(",")')" "admin.list,1001,1002"
is "GET /teams" "$(api GET /teams)" 200
is "teams" "$(body '[.type]+[.teams[].name]|join(",")')" "team.list,Support,Billing"
# A team made after start (a teammate in the Intercom UI), gone on reset.
is "POST /_sim/teams" "$(ctl POST /_sim/teams '{"id":"2003","name":"Escalations"}')" 200
is "it answers the team" "$(body '.type+" "+.id+" "+.name')" "team 2003 Escalations"
is "an existing id is refused" "$(ctl POST /_sim/teams '{"id":"2001","name":"Again"}')" 400
is "an id that is not digits is refused" "$(ctl POST /_sim/teams '{"id":"x1","name":"X"}')" 400
api GET /teams >/dev/null
is "GET /teams lists it last" "$(body '[.teams[].id]|join(",")')" "2001,2002,2003"
is "GET /teams/2003" "$(api GET /teams/2003)/$(body .name)" 200/Escalations
ctl POST /_sim/reset >/dev/null
is "a reset removes it" "$(api GET /teams/2003)/$(body '.errors[0].code')" 404/team_not_found
is "rate headers when unlimited" "$(hdr X-RateLimit-Limit | grep -c .)" 1
is "content type json" "$(hdr Content-Type)" "application/json; charset=utf-8"
is "bad token 401" "$(api GET /me -H 'Authorization: Bearer nope')" 401
is "401 code and message" "$(body '.errors[0].code+": "+.errors[0].message')" "unauthorized: Access Token Invalid"
is "no rate headers on 401" "$(hdr X-RateLimit-Limit)" ""
is "no token 401" "$(curl -s -o /dev/null -w '%{http_code}' "$SIM_URL/me")" 401
is "bad version 400" "$(api GET /me -H 'Intercom-Version: 3.1')" 400
is "bad version code" "$(body '.errors[0].code')" intercom_version_invalid
is "version 1.4 ok" "$(api GET /me -H 'Intercom-Version: 1.4')" 200
is "Accept text/html 406" "$(api GET /me -H 'Accept: text/html')" 406
is "unknown path 404" "$(api GET /nowhere)" 404
is "unsupported method 404" "$(api DELETE /me)" 404
is "404 envelope" "$(body '.type+" "+.errors[0].code')" "error.list not_found"
is "request_id is uuid-shaped" "$(body '.request_id|test("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")')" true
is "invalid JSON 400" "$(api POST /contacts -d '{"role":')" 400
is "invalid JSON code" "$(body '.errors[0].code')" parameter_invalid
dd if=/dev/zero bs=1024 count=2100 2>/dev/null | tr '\0' ' ' >"$T/big"
is "body over 2 MiB refused" "$(api POST /contacts --data-binary @"$T/big")" 413

# --- contacts
is "create lead" "$(api POST /contacts -d '{"role":"lead","phone":"+14155550100","name":"Lee"}')" 200
LEAD=$(body .id)
is "contact id is 24 lower hex" "$(echo "$LEAD" | grep -c '^[0-9a-f]\{24\}$')" 1
is "contact shape" "$(body '[.type,.role,.phone,.name,.tags.url,(.custom_attributes|keys|join("+"))]|join(",")')" \
    "contact,lead,+14155550100,Lee,/contacts/$LEAD/tags,plan_interest+score"
is "create user" "$(api POST /contacts -d '{"role":"user","email":"Ann@Example.com","phone":"+14155550100","external_id":"crm-1"}')" 200
USER=$(body .id)
is "duplicate email (other case) 409" "$(api POST /contacts -d '{"email":"ann@example.COM"}')" 409
is "409 message carries id=" "$(body '.errors[0].code+" "+.errors[0].message')" \
    "conflict A contact matching those details already exists with id=$USER"
is "duplicate external_id 409" "$(api POST /contacts -d '{"external_id":"crm-1","role":"user"}')" 409
is "unknown custom attribute 400" "$(api POST /contacts -d '{"role":"lead","custom_attributes":{"nope":1}}')" 400
is "unknown attribute code" "$(body '.errors[0].code')" parameter_invalid
is "wrong attribute type 400" "$(api POST /contacts -d '{"role":"lead","custom_attributes":{"score":"x"}}')" 400
is "no email/external_id/role 400" "$(api POST /contacts -d '{"name":"x"}')" 400
is "bad role 400" "$(api POST /contacts -d '{"role":"admin"}')" 400
is "failed creates leave nothing" "$(sim_state | jq '.contacts|length')" 2
is "GET contact" "$(api GET /contacts/$USER)" 200
is "GET contact email" "$(body .email)" "Ann@Example.com"
is "GET unknown contact 404" "$(api GET /contacts/0123456789abcdef01234567)" 404
is "PUT custom attributes" "$(api PUT /contacts/$USER -d '{"name":"Ann","custom_attributes":{"plan_interest":"pro","score":3}}')" 200
is "PUT applied" "$(body '.name+" "+.custom_attributes.plan_interest+" "+(.custom_attributes.score|tostring)')" "Ann pro 3"
is "PUT undefined attribute 400" "$(api PUT /contacts/$USER -d '{"custom_attributes":{"undefined_one":"x"}}')" 400
is "PUT 400 changed nothing" "$(sim_state | jq -r ".contacts[]|select(.id==\"$USER\")|.custom_attributes|has(\"undefined_one\")")" false
is "archive" "$(api POST /contacts/$USER/archive)" 200
is "archived true" "$(body .archived)" true
is "409 on archived contact" "$(api POST /contacts -d '{"email":"ann@example.com"}')" 409
is "archived message" "$(body '.errors[0].message')" "An archived contact matching those details already exists with id=$USER"
is "unarchive" "$(api POST /contacts/$USER/unarchive)" 200
is "unarchived" "$(body .archived)" false

# --- conversations
is "conversation unknown contact 404" "$(api POST /conversations -d '{"from":{"type":"user","id":"0123456789abcdef01234567"},"body":"x"}')" 404
is "404 User Not Found" "$(body '.errors[0].message')" "User Not Found"
is "conversation without body 400" "$(api POST /conversations -d "{\"from\":{\"type\":\"lead\",\"id\":\"$LEAD\"}}")" 400
is "create conversation" "$(api POST /conversations -d "{\"from\":{\"type\":\"lead\",\"id\":\"$LEAD\"},\"body\":\"Voice call: customer needs support with billing\"}")" 200
is "answer is a user_message" "$(body '.type+" "+.message_type')" "user_message inapp"
CONV=$(body .conversation_id)
is "conversation id numeric" "$(echo "$CONV" | grep -c '^[0-9][0-9]*$')" 1
is "GET conversation" "$(api GET /conversations/$CONV)" 200
is "conversation shape" "$(body '[.type,.state,(.open|tostring),(.admin_assignee_id|tostring),(.team_assignee_id|tostring),.priority,.contacts.contacts[0].id,.source.author.id,.conversation_parts.type]|join(",")')" \
    "conversation,open,true,0,0,none,$LEAD,$LEAD,conversation_part.list"
is "GET unknown conversation 404" "$(api GET /conversations/999)" 404
is "admin note" "$(api POST /conversations/$CONV/reply -d '{"message_type":"note","type":"admin","admin_id":"1001","body":"<p>summary</p>"}')" 200
is "note is the last part" "$(body '.conversation_parts.conversation_parts[-1]|.part_type+" "+.author.type+" "+.author.id')" "note admin 1001"
is "admin comment" "$(api POST /conversations/$CONV/reply -d '{"message_type":"comment","type":"admin","admin_id":1002,"body":"hi"}')" 200
is "unknown admin 400" "$(api POST /conversations/$CONV/reply -d '{"message_type":"note","type":"admin","admin_id":"9","body":"x"}')" 400
is "unknown admin code" "$(body '.errors[0].code')" admin_not_found
is "contact reply" "$(api POST /conversations/$CONV/reply -d "{\"message_type\":\"comment\",\"type\":\"user\",\"intercom_user_id\":\"$LEAD\",\"body\":\"thanks\"}")" 200
is "contact part author" "$(body '.conversation_parts.conversation_parts[-1].author.id')" "$LEAD"
is "reply unknown conversation 404" "$(api POST /conversations/999/reply -d '{"message_type":"note","type":"admin","admin_id":"1001","body":"x"}')" 404
is "assign team" "$(api POST /conversations/$CONV/parts -d '{"message_type":"assignment","type":"team","admin_id":"1001","assignee_id":"2001"}')" 200
is "team assigned" "$(body '(.team_assignee_id|tostring)+" "+.conversation_parts.conversation_parts[-1].part_type+" "+.conversation_parts.conversation_parts[-1].assigned_to.id')" "2001 assignment 2001"
is "assign admin" "$(api POST /conversations/$CONV/parts -d '{"message_type":"assignment","type":"admin","admin_id":"1001","assignee_id":"1002"}')" 200
is "both assignees" "$(body '[.admin_assignee_id,.team_assignee_id]|map(tostring)|join(",")')" "1002,2001"
is "unknown team 400" "$(api POST /conversations/$CONV/parts -d '{"message_type":"assignment","type":"team","admin_id":"1001","assignee_id":"2999"}')" 400
is "unknown team code" "$(body '.errors[0].code')" team_not_found
is "close" "$(api POST /conversations/$CONV/parts -d '{"message_type":"close","type":"admin","admin_id":"1001"}')" 200
is "closed" "$(body '.state+" "+(.open|tostring)+" "+.conversation_parts.conversation_parts[-1].part_type')" "closed false close"
is "open" "$(api POST /conversations/$CONV/parts -d '{"message_type":"open","admin_id":"1001"}')" 200
is "reopened" "$(body '.state+" "+.conversation_parts.conversation_parts[-1].part_type')" "open open"
is "bad message_type 400" "$(api POST /conversations/$CONV/parts -d '{"message_type":"explode","admin_id":"1001"}')" 400

# --- tags
is "create tag" "$(api POST /tags -d '{"name":"Voice-AI"}')" 200
TAG=$(body .id)
is "tag get-or-create is case-insensitive" "$(api POST /tags -d '{"name":"voice-ai"}')/$(body .id)" "200/$TAG"
is "tag without name 400" "$(api POST /tags -d '{}')" 400
is "GET /tags" "$(api GET /tags)" 200
is "tag list" "$(body '.type+" "+(.data|length|tostring)+" "+.data[0].name')" "list 1 Voice-AI"
is "tag conversation" "$(api POST /conversations/$CONV/tags -d "{\"id\":\"$TAG\",\"admin_id\":\"1001\"}")" 200
is "tag answer" "$(body '.type+" "+.id+" "+.applied_by.id')" "tag $TAG 1001"
is "tag again" "$(api POST /conversations/$CONV/tags -d "{\"id\":\"$TAG\",\"admin_id\":\"1001\"}")" 200
is "one tag, two applications" "$(sim_state | jq -c ".conversations[]|select(.id==\"$CONV\")|[(.tags|length),.tags[0].applications]")" "[1,2]"
is "conversation shows the tag once" "$(api GET /conversations/$CONV >/dev/null; body '.tags.tags|length')" 1
is "tag unknown conversation 404" "$(api POST /conversations/999/tags -d "{\"id\":\"$TAG\",\"admin_id\":\"1001\"}")" 404
is "tag without admin 400" "$(api POST /conversations/$CONV/tags -d "{\"id\":\"$TAG\"}")" 400
is "untag" "$(api DELETE /conversations/$CONV/tags/$TAG -d '{"admin_id":"1001"}')" 200
is "untag again 404" "$(api DELETE /conversations/$CONV/tags/$TAG -d '{"admin_id":"1001"}')" 404

# --- data attributes
is "list attributes" "$(api GET '/data_attributes?model=contact')" 200
is "attributes" "$(body '[.data[]|.full_name+":"+.data_type]|join(",")')" "custom_attributes.plan_interest:string,custom_attributes.score:integer"
is "model=conversation 422" "$(api GET '/data_attributes?model=conversation')" 422
is "create attribute" "$(api POST /data_attributes -d '{"name":"callback_requested","model":"contact","data_type":"boolean"}')" 200
is "attribute shape" "$(body '.type+" "+.name+" "+.data_type+" "+(.custom|tostring)')" "data_attribute callback_requested boolean true"
is "existing attribute 400" "$(api POST /data_attributes -d '{"name":"callback_requested","model":"contact","data_type":"boolean"}')" 400
is "existing message" "$(body '.errors[0].message|startswith("You already have '"'"'callback_requested'"'"' in your contact data")')" true
is "bad data_type 400" "$(api POST /data_attributes -d '{"name":"x1","model":"contact","data_type":"blob"}')" 400
is "bad name 400" "$(api POST /data_attributes -d '{"name":"a.b","model":"contact","data_type":"string"}')" 400
is "new attribute writable" "$(api PUT /contacts/$USER -d '{"custom_attributes":{"callback_requested":true}}')" 200

# --- contact search
for i in 1 2 3 4 5; do
	api POST /contacts -d "{\"role\":\"lead\",\"email\":\"p$i@page.test\",\"phone\":\"+1999000000$i\"}" >/dev/null
done
S='{"query":{"field":"phone","operator":"=","value":"+14155550100"}}'
is "search phone =" "$(api POST /contacts/search -d "$S")" 200
is "both contacts found" "$(body '.type+" "+(.total_count|tostring)')" "list 2"
is "AND group" "$(api POST /contacts/search -d '{"query":{"operator":"AND","value":[{"field":"phone","operator":"=","value":"+14155550100"},{"field":"role","operator":"=","value":"user"}]}}')/$(body '.data[0].id')" "200/$USER"
is "OR group" "$(api POST /contacts/search -d '{"query":{"operator":"OR","value":[{"field":"email","operator":"=","value":"P1@PAGE.TEST"},{"field":"external_id","operator":"=","value":"crm-1"}]}}')/$(body .total_count)" "200/2"
api POST /contacts/search -d '{"query":{"operator":"AND","value":[{"field":"email","operator":"$","value":"@page.test"},{"field":"email","operator":"!=","value":"p3@page.test"}]}}' >/dev/null
is "ends-with and !=" "$(body .total_count)" 4
api POST /contacts/search -d '{"query":{"field":"email","operator":"~","value":"age.te"}}' >/dev/null
is "contains" "$(body .total_count)" 5
api POST /contacts/search -d '{"query":{"field":"phone","operator":"^","value":"+1999"}}' >/dev/null
is "starts-with" "$(body .total_count)" 5
api POST /contacts/search -d '{"query":{"field":"email","operator":"IN","value":["p1@page.test","p2@page.test","zz"]}}' >/dev/null
is "IN" "$(body .total_count)" 2
api POST /contacts/search -d '{"query":{"operator":"AND","value":[{"field":"email","operator":"$","value":"page.test"},{"field":"email","operator":"NIN","value":["p1@page.test"]}]}}' >/dev/null
is "NIN" "$(body .total_count)" 4
api POST /contacts/search -d '{"query":{"operator":"AND","value":[{"field":"role","operator":"=","value":"lead"},{"operator":"OR","value":[{"field":"name","operator":"=","value":"Lee"},{"field":"id","operator":"=","value":"x"}]}]}}' >/dev/null
is "nested group (2 levels)" "$(body '.data[0].id')" "$LEAD"
is "3 levels 400" "$(api POST /contacts/search -d '{"query":{"operator":"AND","value":[{"operator":"OR","value":[{"operator":"AND","value":[{"field":"id","operator":"=","value":"x"}]}]}]}}')" 400
F='{"field":"id","operator":"=","value":"x"}'
is "16 filters 400" "$(api POST /contacts/search -d "{\"query\":{\"operator\":\"OR\",\"value\":[$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F]}}")" 400
is "15 filters ok" "$(api POST /contacts/search -d "{\"query\":{\"operator\":\"OR\",\"value\":[$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F,$F]}}")" 200
is "unknown field 400" "$(api POST /contacts/search -d '{"query":{"field":"shoe_size","operator":"=","value":"x"}}')" 400
is "bad operator 400" "$(api POST /contacts/search -d '{"query":{"field":"email","operator":"<","value":"x"}}')" 400
is "bad sort order 400" "$(api POST /contacts/search -d '{"query":{"field":"role","operator":"=","value":"lead"},"sort":{"field":"created_at","order":"desc"}}')" 400
is "invalid_sort_order" "$(body '.errors[0].code')" invalid_sort_order
is "per_page 151 400" "$(api POST /contacts/search -d '{"query":{"field":"role","operator":"=","value":"lead"},"pagination":{"per_page":151}}')" 400
# pagination: 6 leads, 4 per page
api POST /contacts/search -d '{"query":{"field":"role","operator":"=","value":"lead"},"pagination":{"per_page":4}}' >/dev/null
is "page 1" "$(body '[.total_count,.pages.page,.pages.per_page,.pages.total_pages,(.data|length)]|map(tostring)|join(",")')" "6,1,4,2,4"
NEXT=$(body .pages.next.starting_after)
P1=$(body '[.data[].id]|join(",")')
api POST /contacts/search -d "{\"query\":{\"field\":\"role\",\"operator\":\"=\",\"value\":\"lead\"},\"pagination\":{\"per_page\":4,\"starting_after\":\"$NEXT\"}}" >/dev/null
is "page 2" "$(body '[.pages.page,(.data|length)]|map(tostring)|join(",")')" "2,2"
is "no next on last page" "$(body '.pages|has("next")')" false
check "pages disjoint" [ -z "$(echo "$P1" | tr ',' '\n' | grep -F -x -f - "$T/body" 2>/dev/null)" ]
is "bad cursor 400" "$(api POST /contacts/search -d '{"query":{"field":"role","operator":"=","value":"lead"},"pagination":{"starting_after":"garbage"}}')" 400

# --- merge: 2.16 rules, 410 + Link, conversations move
api POST /contacts -d '{"role":"lead","email":"other@x.test"}' >/dev/null
L2=$(body .id)
is "merge non-duplicates 400" "$(api POST /contacts/merge -d "{\"from\":\"$L2\",\"into\":\"$USER\"}")" 400
is "invalid_merge" "$(body '.errors[0].code')" invalid_merge
is "merge user into user 400" "$(api POST /contacts/merge -d "{\"from\":\"$USER\",\"into\":\"$USER\"}")" 400
is "merge lead into user (same phone)" "$(api POST /contacts/merge -d "{\"from\":\"$LEAD\",\"into\":\"$USER\"}")" 200
is "merge returns target" "$(body .id)" "$USER"
is "GET merged 410" "$(api GET /contacts/$LEAD)" 410
is "410 code" "$(body '.errors[0].code+": "+.errors[0].message')" "contact_merged: This contact has been merged. See the 'Link' header for the canonical contact."
is "Link header" "$(hdr Link)" "</contacts/$USER>; rel=\"canonical\""
is "PUT merged 410" "$(api PUT /contacts/$LEAD -d '{"name":"x"}')" 410
is "conversation moved" "$(api GET /conversations/$CONV >/dev/null; body '.contacts.contacts[0].id')" "$USER"
api POST /contacts/search -d "{\"query\":{\"field\":\"id\",\"operator\":\"=\",\"value\":\"$LEAD\"}}" >/dev/null
is "merged excluded from search" "$(body .total_count)" 0
is "skip_duplicate_validation" "$(api POST /contacts/merge -d "{\"from\":\"$L2\",\"into\":\"$USER\",\"skip_duplicate_validation\":true}")" 200
is "conversation from merged 404" "$(api POST /conversations -d "{\"from\":{\"type\":\"lead\",\"id\":\"$LEAD\"},\"body\":\"x\"}")" 404
# chain: /_sim/merge (a human's merge) follows the Link to the end
ctl POST /_sim/contacts '{"role":"user","email":"final@x.test"}' >/dev/null
FINAL=$(body .id)
is "/_sim/merge" "$(ctl POST /_sim/merge "{\"from\":\"$USER\",\"into\":\"$FINAL\"}")" 200
is "chain Link" "$(api GET /contacts/$LEAD; hdr Link)" "410</contacts/$FINAL>; rel=\"canonical\""
is "merges in state" "$(sim_state | jq -c '[.merges[]|.by]')" '["api","api","sim"]'

# --- conversation search
api POST /conversations -d "{\"from\":{\"type\":\"user\",\"id\":\"$FINAL\"},\"body\":\"Second call: supportive words\"}" >/dev/null
C2=$(body .conversation_id)
Q="{\"query\":{\"operator\":\"AND\",\"value\":[{\"field\":\"contact_ids\",\"operator\":\"=\",\"value\":\"$FINAL\"},{\"field\":\"source.body\",\"operator\":\"=\",\"value\":\"support\"}]}}"
is "conversation search" "$(api POST /conversations/search -d "$Q")" 200
is "source.body = matches whole words" "$(body '.type+" "+(.total_count|tostring)+" "+.conversations[0].id')" "conversation.list 1 $CONV"
api POST /conversations/search -d '{"query":{"field":"source.body","operator":"~","value":"support"}}' >/dev/null
is "source.body ~ substring" "$(body .total_count)" 2
api POST /conversations/search -d "{\"query\":{\"field\":\"contact_ids\",\"operator\":\"IN\",\"value\":[\"$FINAL\"]}}" >/dev/null
is "contact_ids IN" "$(body .total_count)" 2
api POST /conversations/search -d '{"query":{"field":"created_at","operator":">","value":1}}' >/dev/null
is "created_at >" "$(body .total_count)" 2
api POST /conversations/search -d "{\"query\":{\"field\":\"id\",\"operator\":\"=\",\"value\":\"$C2\"}}" >/dev/null
is "id =" "$(body '.conversations[0].id')" "$C2"
api POST /conversations/search -d '{"query":{"field":"open","operator":"=","value":true},"pagination":{"per_page":1}}' >/dev/null
is "per_page 1 pages" "$(body '[.total_count,.pages.total_pages,(.conversations|length)]|map(tostring)|join(",")')" "2,2,1"
is "conversation search bad field 400" "$(api POST /conversations/search -d '{"query":{"field":"title","operator":"=","value":"x"}}')" 400

# --- search lag: invisible, then visible; state shows it
ctl POST /_sim/control '{"search_lag_s":0.6}' >/dev/null
api POST /contacts -d '{"role":"lead","email":"lag@x.test"}' >/dev/null
LAG=$(body .id)
api POST /contacts/search -d '{"query":{"field":"email","operator":"=","value":"lag@x.test"}}' >/dev/null
is "new contact hidden by lag" "$(body .total_count)" 0
is "GET works during lag" "$(api GET /contacts/$LAG)" 200
is "state shows not searchable" "$(sim_state | jq ".contacts[]|select(.id==\"$LAG\")|.searchable")" false
wait_for "contact becomes searchable" ".contacts[]|select(.id==\"$LAG\")|.searchable"
api POST /contacts/search -d '{"query":{"field":"email","operator":"=","value":"lag@x.test"}}' >/dev/null
is "found after lag" "$(body .total_count)" 1
ctl POST /_sim/control '{"search_lag_s":0}' >/dev/null

# --- rate limit: 60/min -> 10 per 10 s window
ctl POST /_sim/control '{"rate_limit":60}' >/dev/null
api GET /me >/dev/null
is "window budget" "$(hdr X-RateLimit-Limit)" 10
RESET=$(hdr X-RateLimit-Reset)
NOW=$(date +%s)
check "reset is the end of the aligned window" \
    [ $((RESET % 10)) -eq 0 -a "$RESET" -gt "$NOW" -a "$RESET" -le $((NOW + 11)) ]
n=0; code=200
while [ "$code" = 200 ] && [ $n -lt 30 ]; do code=$(api GET /me); n=$((n + 1)); done
is "429 within the window" "$code" 429
is "429 body" "$(body '.errors[0].code+" "+.errors[0].message')" "rate_limit_exceeded Exceeded rate limit of 10 in 10_seconds"
is "429 remaining 0" "$(hdr X-RateLimit-Remaining)" 0
is "429 has limit header" "$(hdr X-RateLimit-Limit)" 10
ctl POST /_sim/control '{"rate_limit":0}' >/dev/null

# --- /_sim/state
sim_state >"$T/state.json"
is "state top-level keys" "$(jq -c 'keys' "$T/state.json")" '["articles","companies","contacts","conversations","data_attributes","faults","merges","requests","tags","tickets"]'
is "by_endpoint counts 409" "$(jq '.requests.by_endpoint["POST /contacts"]["409"]' "$T/state.json")" 3
is "endpoint templates" "$(jq -c '.requests.by_endpoint|keys|map(select(startswith("POST /conversations/{id}") or startswith("DELETE /conv")))' "$T/state.json")" \
    '["DELETE /conversations/{id}/tags/{id}","POST /conversations/{id}/parts","POST /conversations/{id}/reply","POST /conversations/{id}/tags"]'
is "total = log length" "$(jq '.requests.total == (.requests.log|length)' "$T/state.json")" true
is "total = sum of by_endpoint" "$(jq '.requests.total == ([.requests.by_endpoint[]|.[]]|add)' "$T/state.json")" true
is "log entry shape" "$(jq -c '.requests.log[0]|keys' "$T/state.json")" '["at_ms","endpoint","fault","method","path","seq","status"]'
is "429s counted" "$(jq '.faults.rate_limited' "$T/state.json")" 1
is "contact state shape" "$(jq -c '.contacts[0]|del(.searchable)|keys' "$T/state.json")" \
    '["archived","companies","created_at","custom_attributes","email","external_id","id","merged_into","name","phone","role","updated_at"]'
is "conversation parts in state" "$(jq -c ".conversations[]|select(.id==\"$CONV\")|[.parts[]|.part_type]" "$T/state.json")" \
    '["note","comment","comment","assignment","assignment","close","open"]'
is "reset" "$(ctl POST /_sim/reset)" 200
is "reset clears data and counters" "$(sim_state | jq -c '[(.contacts|length),.requests.total,(.tags|length),(.data_attributes|length)]')" "[0,0,0,2]"
is "/_sim on the API port too" "$(curl -s -o /dev/null -w '%{http_code}' "$SIM_URL/_sim/state")" 200
is "/_sim not counted" "$(sim_state | jq .requests.total)" 0
is "unknown control field 400" "$(ctl POST /_sim/control '{"p_lots":1}')" 400
