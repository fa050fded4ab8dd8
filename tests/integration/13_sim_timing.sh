#!/bin/sh
# 13_sim_timing.sh: intercom-sim's hostile timing: late applies (a write
# applied late_ms after arrival whether or not its client is still there),
# late_next and late_paths, p_late and p_late_lost, search lag counted from
# the apply, merges moving conversations (API, /_sim/merge, merge_on_next
# at a chosen request), pad_conversation making GET answers over 4 MiB,
# and source.body search on HTML bodies.  Clients that give up are curl
# --max-time; every wait for an effect polls with a bound.
. "$(dirname "$0")/lib.sh"
. "$ROOT/sim/simtest.sh"
t_setup
LATE=2500
sim_start --late-ms $LATE || { not_ok "sim_start"; exit 1; }

# rc METHOD PATH [curl args]: curl's exit status (the answer in $T/body)
rc() {
	_m=$1; _p=$2; shift 2
	curl -s -o "$T/body" -X "$_m" "$@" -H "Authorization: Bearer $SIM_TOKEN" \
	    -H 'Content-Type: application/json' "$SIM_URL$_p"
	echo $?
}
nconvs() { sim_state | jq '.conversations|length'; }
lastlog() { sim_state | jq -c ".requests.log[-1]|$1"; }
note() { printf '{"message_type":"note","type":"admin","admin_id":"1001","body":"%s"}' "$1"; }
# search_conv FIELD OP VALUE: total_count of a conversation search
search_conv() {
	api POST /conversations/search -d "{\"query\":{\"field\":\"$1\",\"operator\":\"$2\",\"value\":\"$3\"}}" >/dev/null
	body .total_count
}

check "--help lists the timing flags" sh -c "for f in late-ms p-late p-late-lost; do '$BIN/intercom-sim' --help | grep -q -- \"--\$f \" || exit 1; done"
is "--late-ms in the settings" "$(ctl GET /_sim/control)/$(body '[.late_ms,.p_late,.p_late_lost,.late_next,.late_paths,.merge_on_next]|tojson')" "200/[$LATE,0,0,0,null,null]"
is "probabilities with p_late over 1 400" "$(ctl POST /_sim/control '{"p_late":0.6,"p_lost":0.6}')" 400
is "bad late_paths 400" "$(ctl POST /_sim/control '{"late_paths":7}')" 400
is "bad p_late_lost 400" "$(ctl POST /_sim/control '{"p_late_lost":-1}')" 400

ctl POST /_sim/contacts '{"role":"lead","phone":"+14155550111"}' >/dev/null
LEAD=$(body .id)

# --- a late conversation whose client gave up: applied at late_ms, with
# the search lag counted from the apply
ctl POST /_sim/control '{"late_next":1,"search_lag_s":1.5}' >/dev/null
is "late_next armed" "$(body .late_next)" 1
t0=$(date +%s%3N)
is "late write: the client gives up after 1 s" "$(rc POST /conversations --max-time 1 -d "{\"from\":{\"type\":\"lead\",\"id\":\"$LEAD\"},\"body\":\"<p>late one</p>\"}")" 28
is "not applied when the client gave up" "$(nconvs)" 0
is "late logged with status 0, not applied yet" "$(lastlog '[.status,.fault,.applied_late,.applied_at_ms]')" '[0,"late",false,null]'
is "faults.late and late_pending" "$(sim_state | jq -c '.faults|[.late,.late_pending]')" '[1,1]'
is "late_next used up" "$(ctl GET /_sim/control; body .late_next)" 2000
wait_for "the late conversation appears" '.conversations|length == 1'
t1=$(date +%s%3N)
check "applied no sooner than late_ms after the request ($((t1 - t0)) ms)" [ $((t1 - t0)) -ge $LATE ]
is "not searchable right after the apply (lag counts from it)" "$(sim_state | jq '.conversations[0].searchable')" false
is "search by contact finds nothing yet" "$(search_conv contact_ids = "$LEAD")" 0
snap
at=$(st '[.requests.log[]|select(.applied_late)][-1].at_ms')
applied=$(st '[.requests.log[]|select(.applied_late)][-1].applied_at_ms')
check "applied_at_ms - at_ms is about late_ms ($((applied - at)))" [ $((applied - at)) -ge $LATE -a $((applied - at)) -lt $((LATE + 1000)) ]
is "log entry gets the apply's status" "$(st -c '[.requests.log[]|select(.applied_late)][-1]|[.status,.fault,.applied_late]')" '[200,"late",true]'
is "by_endpoint counts the apply" "$(st '.requests.by_endpoint["POST /conversations"]["200"]')" 1
is "late_pending back to 0" "$(st '.faults.late_pending')" 0
check "created_at is the apply time" [ "$(st '.conversations[0].created_at')" -ge $((applied / 1000)) ]
CONV=$(st -r '.conversations[0].id')
wait_for "searchable after the lag" '.conversations[0].searchable'
t2=$(date +%s%3N)
check "searchable only lag after the apply ($((t2 - t0)) ms)" [ $((t2 - t0)) -ge $((LATE + 1500)) ]
is "search by contact finds it" "$(search_conv contact_ids = "$LEAD")" 1
ctl POST /_sim/control '{"search_lag_s":0}' >/dev/null

# --- late_next with late_paths: only matching writes are late; a client
# that waits gets the answer at the apply
ctl POST /_sim/control '{"late_next":2,"late_paths":"/reply"}' >/dev/null
is "late_paths shown" "$(body .late_paths)" /reply
t0=$(date +%s%3N)
is "non-matching write not late" "$(api POST /tags -d '{"name":"quick"}')" 200
t1=$(date +%s%3N)
check "answered at once ($((t1 - t0)) ms)" [ $((t1 - t0)) -lt 1000 ]
is "GET never late" "$(api GET /conversations/$CONV)" 200
is "late_next untouched by them" "$(ctl GET /_sim/control; body .late_next)" 2002
t0=$(date +%s%3N)
is "waiting client gets the late answer" "$(api POST /conversations/$CONV/reply -d "$(note waited)")" 200
t1=$(date +%s%3N)
check "answer came at the apply ($((t1 - t0)) ms)" [ $((t1 - t0)) -ge $LATE ]
is "its note exists" "$(sim_state | jq '[.conversations[0].parts[]|select(.body=="waited")]|length')" 1
is "late reply logged" "$(lastlog '[.endpoint,.status,.applied_late]')" '["POST /conversations/{id}/reply",200,true]'
is "gave-up note: client times out" "$(rc POST /conversations/$CONV/reply --max-time 1 -d "$(note gaveup)")" 28
is "gave-up note absent right after" "$(sim_state | jq '[.conversations[0].parts[]|select(.body=="gaveup")]|length')" 0
wait_for "gave-up note applied later" '[.conversations[0].parts[]|select(.body=="gaveup")]|length == 1'
is "late_next spent" "$(ctl GET /_sim/control; body .late_next)" 2000
is "next reply is on time" "$(api POST /conversations/$CONV/reply -d "$(note ontime)")/$(lastlog .fault)" 200/null

# --- p_late with late_paths, then p_late_lost
ctl POST /_sim/control '{"late_ms":500,"p_late":1,"late_paths":"/conversations"}' >/dev/null
is "p_late: other paths on time" "$(api POST /tags -d '{"name":"p-late-other"}')/$(lastlog .fault)" 200/null
is "p_late: matching path late" "$(rc POST /conversations/$CONV/reply --max-time 0.2 -d "$(note plate)")" 28
wait_for "p_late note applied" '[.conversations[0].parts[]|select(.body=="plate")]|length == 1'
ctl POST /_sim/control '{"p_late":0,"late_paths":null,"p_late_lost":1}' >/dev/null
is "late_paths cleared" "$(body .late_paths)" null
is "GET never late_lost" "$(api GET /me)" 200
t0=$(date +%s%3N)
is "late_lost: no answer (empty reply)" "$(rc POST /tags -d '{"name":"late-lost"}')" 52
t1=$(date +%s%3N)
check "connection dropped at the apply ($((t1 - t0)) ms)" [ $((t1 - t0)) -ge 500 ]
is "late_lost write applied" "$(sim_state | jq '[.tags[]|select(.name=="late-lost")]|length')" 1
is "late_lost logged" "$(lastlog '[.status,.fault,.applied_late]')" '[200,"late_lost",true]'
is "late_lost counted" "$(sim_state | jq .faults.late_lost)" 1
is "late_lost whose client left first" "$(rc POST /tags --max-time 0.2 -d '{"name":"late-lost-2"}')" 28
wait_for "still applied" '[.tags[]|select(.name=="late-lost-2")]|length == 1'
ctl POST /_sim/control '{"p_late_lost":0,"late_ms":'$LATE'}' >/dev/null

# --- merges move conversations: search by the lead no longer matches
api POST /contacts -d '{"role":"lead","phone":"+14155550222"}' >/dev/null
ML=$(body .id)
api POST /contacts -d '{"role":"user","email":"mu@x.test","phone":"+14155550222"}' >/dev/null
MU=$(body .id)
api POST /conversations -d "{\"from\":{\"type\":\"lead\",\"id\":\"$ML\"},\"body\":\"merge me\"}" >/dev/null
MC=$(body .conversation_id)
is "before merge: found by the lead" "$(search_conv contact_ids = "$ML")/$(search_conv contact_ids = "$MU")" 1/0
is "API merge" "$(api POST /contacts/merge -d "{\"from\":\"$ML\",\"into\":\"$MU\"}")" 200
is "after merge: not by the lead" "$(search_conv contact_ids = "$ML")" 0
is "after merge: by the user" "$(search_conv contact_ids = "$MU")" 1
is "conversation lists the user" "$(sim_state | jq -c ".conversations[]|select(.id==\"$MC\")|.contact_ids")" "[\"$MU\"]"
ctl POST /_sim/contacts '{"role":"lead","phone":"+14155550333"}' >/dev/null
SL=$(body .id)
ctl POST /_sim/contacts '{"role":"user","email":"su@x.test"}' >/dev/null
SU=$(body .id)
api POST /conversations -d "{\"from\":{\"type\":\"lead\",\"id\":\"$SL\"},\"body\":\"sim merge\"}" >/dev/null
is "/_sim/merge" "$(ctl POST /_sim/merge "{\"from\":\"$SL\",\"into\":\"$SU\"}")" 200
is "/_sim/merge moves it too" "$(search_conv contact_ids = "$SL")/$(search_conv contact_ids = "$SU")" 0/1

# --- merge_on_next: the merge happens as the chosen request arrives
ctl POST /_sim/contacts '{"role":"lead","phone":"+14155550444"}' >/dev/null
NL=$(body .id)
ctl POST /_sim/contacts '{"role":"user","email":"nu@x.test"}' >/dev/null
NU=$(body .id)
api POST /conversations -d "{\"from\":{\"type\":\"lead\",\"id\":\"$NL\"},\"body\":\"merge on next\"}" >/dev/null
NC=$(body .conversation_id)
is "merge_on_next unknown contact 400" "$(ctl POST /_sim/control '{"merge_on_next":{"path":"/x","from":"0123456789abcdef01234567","into":"'$NU'"}}')" 400
is "merge_on_next missing path 400" "$(ctl POST /_sim/control '{"merge_on_next":{"from":"'$NL'","into":"'$NU'"}}')" 400
ctl POST /_sim/control "{\"merge_on_next\":{\"path\":\"/contacts/$NL\",\"from\":\"$NL\",\"into\":\"$NU\"}}" >/dev/null
is "merge_on_next armed" "$(body '.merge_on_next|[.path,.from,.into]|tojson')" "[\"/contacts/$NL\",\"$NL\",\"$NU\"]"
nm=$(sim_state | jq '.merges|length')
is "other requests do not trigger it" "$(api GET /me)/$(sim_state | jq '.merges|length')" "200/$nm"
is "the chosen request meets a merged contact" "$(api PUT /contacts/$NL -d '{"name":"too late"}')" 410
is "merged at that moment" "$(sim_state | jq -c '.merges[-1]|[.from,.into,.by]')" "[\"$NL\",\"$NU\",\"sim\"]"
is "disarmed after use" "$(ctl GET /_sim/control; body .merge_on_next)" 200null
is "its conversation moved" "$(search_conv contact_ids = "$NL")/$(search_conv contact_ids = "$NU")" 0/1
ctl POST /_sim/contacts '{"role":"lead","phone":"+14155550555"}' >/dev/null
RL=$(body .id)
ctl POST /_sim/control "{\"merge_on_next\":{\"path\":\"/x\",\"from\":\"$RL\",\"into\":\"$NU\"}}" >/dev/null
ctl POST /_sim/control '{"merge_on_next":null}' >/dev/null
is "merge_on_next null disarms" "$(body .merge_on_next)" null

# --- pad_conversation: GET answers over 4 MiB
is "pad unknown conversation 400" "$(ctl POST /_sim/pad_conversation '{"id":"999","bytes":100}')" 400
is "pad over 80 MiB 400" "$(ctl POST /_sim/pad_conversation "{\"id\":\"$NC\",\"bytes\":$((80 * 1048576 + 1))}")" 400
is "pad 9 MiB" "$(ctl POST /_sim/pad_conversation "{\"id\":\"$NC\",\"bytes\":$((9 * 1048576))}")" 200
is "in parts of at most 8 MiB" "$(body '.parts|length')" 2
is "GET the padded conversation" "$(api GET /conversations/$NC)" 200
size=$(wc -c <"$T/body")
check "answer over 4 MiB ($size bytes)" [ "$size" -gt $((9 * 1048576)) ]
is "answer is whole JSON" "$(body '[.id,(.conversation_parts.conversation_parts|length)]|tojson')" "[\"$NC\",2]"
is "padding by admin 991, filler bytes" "$(body '[.conversation_parts.conversation_parts[]|[.part_type,.author.type,.author.id,(.body|length)]]|tojson')" "[[\"note\",\"admin\",\"991\",8388608],[\"note\",\"admin\",\"991\",1048576]]"
is "padded body is HTML" "$(body '.conversation_parts.conversation_parts[1].body|.[0:5]+.[-6:]')" "<p>xxxx</p>"
is "4 MiB + 1 in one part" "$(ctl POST /_sim/pad_conversation "{\"id\":$CONV,\"bytes\":$((4 * 1048576 + 1))}")/$(body '.parts|length')" 200/1
is "GET it" "$(api GET /conversations/$CONV)" 200
check "its answer is over 4 MiB" [ "$(wc -c <"$T/body")" -gt $((4 * 1048576)) ]

# --- source.body search on HTML bodies: the plain text POST /conversations
# takes is stored as HTML ("<p>Call summary ...</p><p>end</p>")
api POST /conversations -d "{\"from\":{\"type\":\"lead\",\"id\":\"$LEAD\"},\"body\":\"Call summary cs0123456789abcdef\\n\\nend\"}" >/dev/null
is "~ finds the marker inside HTML" "$(search_conv source.body '~' cs0123456789abcdef)" 1
is "= finds the marker as a whole word" "$(search_conv source.body = cs0123456789abcdef)" 1
is "= does not match part of a word" "$(search_conv source.body = cs0123456789abcde)" 0
is "~ matches part of a word" "$(search_conv source.body '~' cs0123456789abcde)" 1
is "~ sees the markup" "$(search_conv source.body '~' 'summary cs0123456789abcdef</p>')" 1
sim_stop
