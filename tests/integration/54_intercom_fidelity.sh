#!/bin/sh
# 54_intercom_fidelity.sh (issue 13): what Intercom shows for a call, and
# a simulator that is no kinder than Intercom.  Conversations dated when
# the call happened; from.type "contact" unless the role is known (the
# simulator refuses a contradicting user/lead); HTML bodies with stray
# control characters dropped; public replies delivered whole with
# nothing internal, reconciled without a marker; a deleted tag resolved
# again; the producer SQL without a key in the payload; leads may share
# an email; DELETE /tags/{id}; conversations with many parts.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
write_conf "allow_public_replies = true
audit_bodies = true
max_body = 1024"
cs() { "$BIN/callsync" --config "$T/callsync.conf" "$@"; }
cs init >/dev/null 2>&1

# api METHOD PATH [JSON]: the Intercom API of the simulator; body in $T/body.
api() {
	curl -s -o "$T/body" -w '%{http_code}' -X "$1" \
	    -H "Authorization: Bearer $SIM_TOKEN" -H 'Intercom-Version: 2.16' \
	    -H 'Content-Type: application/json' ${3:+-d "$3"} "$SIM_URL$2"
}
body() { jq -r "$1" "$T/body"; }
mk() {
	curl -sf -X POST -H 'Content-Type: application/json' -d "$1" \
	    "$SIM_CTL/_sim/contacts" | jq -r .id
}
conv_of() { sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = '$1' AND j.step = 'conversation'"; }
state_of() { sql "SELECT state || coalesce(' ' || (SELECT reason || ': ' || message FROM dead_letter d WHERE d.outbox_id = o.id), '') FROM outbox o WHERE record_key = '$1'"; }
drain() { drain_until_done "${1:-5}" 120; }

# --- 1: conversations dated when the call happened -------------------------
cat >"$T/1.jsonl" <<'J'
{"type":"call","call_id":"d1","caller":{"phone":"+15554000001"},"summary":"Yesterday's call","started_at":"2026-11-24T08:30:00+01:00"}
{"type":"call","call_id":"d2","caller":{"phone":"+15554000002"},"summary":"No start time"}
J
cs enqueue "$T/1.jsonl" >/dev/null 2>&1
sql "UPDATE outbox SET enqueued_at = enqueued_at - 3600 WHERE record_key = 'd2'"
drain; is "1: drained" "$?" 0
snap
is "1: d1 created_at = started_at (2026-11-24T07:30:00Z)" \
    "$(st --arg id "$(conv_of d1)" '.conversations[] | select(.id == $id) | .created_at')" \
    "$(date -u -d 2026-11-24T07:30:00Z +%s)"
is "1: d2 created_at = its enqueue time" \
    "$(st --arg id "$(conv_of d2)" '.conversations[] | select(.id == $id) | .created_at')" \
    "$(sql "SELECT enqueued_at FROM outbox WHERE record_key = 'd2'")"
U0=$(mk '{"role":"user","email":"u0@example.com"}')
is "1: sim refuses created_at in the future" \
    "$(api POST /conversations "{\"from\":{\"type\":\"user\",\"id\":\"$U0\"},\"body\":\"x\",\"created_at\":$(($(date +%s) + 86400))}")" 400
is "1: sim refuses a created_at that is not an integer" \
    "$(api POST /conversations "{\"from\":{\"type\":\"user\",\"id\":\"$U0\"},\"body\":\"x\",\"created_at\":\"yesterday\"}")" 400
is "1: sim stores and returns a past created_at" \
    "$(api POST /conversations "{\"from\":{\"type\":\"user\",\"id\":\"$U0\"},\"body\":\"x\",\"created_at\":1700000000}" >/dev/null; body .created_at)" 1700000000

# --- 2: from.type --------------------------------------------------------
is "2: sim refuses from.type lead for a user (400 error.list)" \
    "$(api POST /conversations "{\"from\":{\"type\":\"lead\",\"id\":\"$U0\"},\"body\":\"x\"}"),$(body '.type + " " + .errors[0].code')" \
    "400,error.list parameter_invalid"
is "2: sim accepts from.type contact for a user" \
    "$(api POST /conversations "{\"from\":{\"type\":\"contact\",\"id\":\"$U0\"},\"body\":\"x\"}")" 200
# The role unknown: an explicit contact_id (a user), a 409 (a user's email
# the search cannot see yet), the survivor of a merge.
U1=$(mk '{"role":"user","phone":"+15554000010"}')
sim_ctl '{"search_lag_s":60}'
U2=$(api POST /contacts '{"role":"user","email":"late@example.com"}' >/dev/null; body .id)
printf '{"type":"call","call_id":"f1","caller":{"contact_id":"%s"},"summary":"explicit user"}\n{"type":"call","call_id":"f2","caller":{"email":"late@example.com"},"summary":"409 user"}\n{"type":"call","call_id":"f3","caller":{"phone":"+15554000011"},"summary":"new lead"}\n' "$U1" >"$T/2.jsonl"
cs enqueue "$T/2.jsonl" >/dev/null 2>&1
drain; is "2: drained" "$?" 0
sim_ctl '{"search_lag_s":0}'
is "2: f1 (explicit contact_id, a user) delivered" "$(state_of f1)" done
is "2: f2 (409 on a user's email) delivered" "$(state_of f2)" done
is "2: f3 (a lead callsync created) delivered" "$(state_of f3)" done
snap
is "2: f1 on U1" "$(conv_contact f1)" "$U1"
is "2: f2 on U2" "$(conv_contact f2)" "$U2"
ftype() { sql "SELECT body FROM audit WHERE record_key = '$1' AND step = 'conversation' AND kind = 'write'" | jq -r .from.type; }
is "2: f1 sent from.type contact" "$(ftype f1)" contact
is "2: f2 sent from.type contact" "$(ftype f2)" contact
is "2: f3 sent from.type lead (the create answered role lead)" "$(ftype f3)" lead
# The lead callsync created is merged into a user in Intercom: the next
# call finds it gone (410 + Link), and the cached role becomes user.
L3=$(journal_contact f3)
U3=$(mk '{"role":"user","phone":"+15554000011","email":"u3@example.com"}')
curl -sf -X POST -H 'Content-Type: application/json' \
    -d "{\"from\":\"$L3\",\"into\":\"$U3\"}" "$SIM_CTL/_sim/merge" >/dev/null
printf '{"type":"call","call_id":"f4","caller":{"phone":"+15554000011"},"summary":"after the merge"}\n{"type":"call","call_id":"f5","caller":{"phone":"+15554000011"},"summary":"and again"}\n' | cs enqueue - >/dev/null 2>&1
drain; is "2: drained after the merge" "$?" 0
snap
is "2: f4 on the survivor U3" "$(state_of f4) $(conv_contact f4)" "done $U3"
is "2: f4 sent from.type contact (survivor, role not in an answer)" "$(ftype f4)" contact
is "2: the map's role for the merged caller is user" \
    "$(sql "SELECT contact_id || '|' || role FROM contact_identity WHERE kind = 'phone' AND value = '+15554000011'")" "$U3|user"
is "2: f5 (from the map) sent from.type user" "$(ftype f5)" user
is "2: no conversation create of the worker refused (3 refusals: ours above)" \
    "$(st '[.requests.log[] | select(.method == "POST" and .path == "/conversations" and .status == 400)] | length')" 3

# A cached role gone stale (the lead was made a user in Intercom): the
# refused create is sent again with from.type contact.
printf '{"type":"call","call_id":"g1","caller":{"phone":"+15554000012"},"summary":"as a lead"}\n' | cs enqueue - >/dev/null 2>&1
drain; is "2: g1 drained" "$?" 0
G=$(journal_contact g1)
is "2: the lead made a user in Intercom" "$(api PUT "/contacts/$G" '{"role":"user"}' >/dev/null; body .role)" user
printf '{"type":"call","call_id":"g2","caller":{"phone":"+15554000012"},"summary":"now a user"}\n' | cs enqueue - >/dev/null 2>&1
drain; is "2: g2 drained" "$?" 0
is "2: g2 delivered despite the stale role" "$(state_of g2)" done
is "2: g2 sent from.type contact after the refusal" "$(ftype g2)" contact

# --- 3: HTML bodies --------------------------------------------------------
printf '{"type":"call","call_id":"h1","caller":{"phone":"+15554000020"},"summary":"Refund <5 USD> & \\"soon\\"\\u0007\\n\\nCall back\\u001b[0m Monday","transcript":[{"speaker":"agent","text":"Hello"},{"speaker":"caller","text":"a<b & c"}]}\n' >"$T/3.jsonl"
cs enqueue "$T/3.jsonl" >/dev/null 2>&1
drain; is "3: drained" "$?" 0
is "3: control characters do not dead-letter the call" "$(state_of h1)" done
snap
M=$(sql "SELECT marker FROM outbox WHERE record_key = 'h1'")
is "3: body is HTML: escaped, paragraphs, one line per turn, ref line" \
    "$(st -r --arg id "$(conv_of h1)" '.conversations[] | select(.id == $id) | .body')" \
    "<p>Refund &lt;5 USD&gt; &amp; &quot;soon&quot;</p><p>Call back[0m Monday</p><p>Transcript:<br>agent: Hello<br>caller: a&lt;b &amp; c</p><p>ref h1 $M</p>"
is "3: the marker is found by search on the HTML body" \
    "$(api POST /conversations/search "{\"query\":{\"field\":\"source.body\",\"operator\":\"=\",\"value\":\"$M\"}}"),$(body '.conversations | length')" "200,1"
# A long transcript: every body and note within max_body as sent.
awk 'BEGIN { printf("{\"type\":\"call\",\"call_id\":\"h2\",\"caller\":{\"phone\":\"+15554000021\"},\"summary\":\"Long & <odd>\",\"transcript\":[");
	for (i = 1; i <= 80; i++) printf("%s{\"speaker\":\"caller\",\"text\":\"line %03d & <more> \\\"quoted\\\"\"}", i > 1 ? "," : "", i);
	printf("]}\n") }' | cs enqueue - >/dev/null 2>&1
drain; is "3: long drained" "$?" 0
snap
H2=$(conv_of h2)
is "3: every piece within max_body (1024) as HTML" \
    "$(st --arg id "$H2" '[.conversations[] | select(.id == $id) | (.body, (.parts[] | .body)) | select(. != null) | length | select(. > 1024)] | length')" 0
is "3: the transcript continues in notes, in order, each whole lines" \
    "$(st -r --arg id "$H2" '[.conversations[] | select(.id == $id) | .body, (.parts[] | select(.part_type == "note") | .body)] | map(gsub("<p>(\\(transcript continued\\) )?ref [^<]*</p>"; "") | gsub("</?p>|Transcript:"; "") | gsub("<br>"; "\n")) | join("\n") | split("\n") | map(select(test("^caller: line"))) | length')" 80

# --- 4: public replies: whole, nothing internal ----------------------------
C=$(conv_of d1)
awk -v c="$C" 'BEGIN { s = ""; for (i = 1; i <= 120; i++) s = s sprintf("Sentence %03d of the answer. ", i);
	printf("{\"type\":\"reply\",\"key\":\"r1\",\"conversation_id\":\"%s\",\"body\":\"%s\"}\n", c, s) }' >"$T/r1.jsonl"
cs enqueue "$T/r1.jsonl" >/dev/null 2>&1
drain; is "4: drained" "$?" 0
snap
RM=$(sql "SELECT marker FROM outbox WHERE record_key = 'r1'")
st -r --arg id "$C" '.conversations[] | select(.id == $id) | .parts[] | select(.part_type == "comment") | .body' >"$T/replies"
n=$(wc -l <"$T/replies")
check "4: a 3,600-character reply arrives in several comments ($n)" [ "$n" -ge 4 ]
is "4: one journal step per comment (reply, reply:2, ...)" \
    "$(sql "SELECT count(*) FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = 'r1' AND (j.step = 'reply' OR j.step LIKE 'reply:%')")" "$n"
is "4: no key or marker visible to the customer" "$(grep -c -e "$RM" -e 'ref r1' "$T/replies")" 0
is "4: the comments together are the whole reply, in order" \
    "$(sed 's/^<p>//; s/<\/p>$//' "$T/replies" | tr '\n' ' ' | sed 's/ *$//')" \
    "$(jq -r .body "$T/r1.jsonl" | sed 's/ *$//')"
is "4: every comment authored by admin 1001" \
    "$(st --arg id "$C" '[.conversations[] | select(.id == $id) | .parts[] | select(.part_type == "comment" and .author_id != "1001")] | length')" 0
# An answer lost after the comment was posted: reconciled by body, not
# posted twice.
printf '{"type":"reply","key":"r2","conversation_id":"%s","body":"Thanks, we have booked you for Monday."}\n' "$C" | cs enqueue - >/dev/null 2>&1
sim_ctl '{"p_lost":1}'
timeout 60 "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>>"$T/worker.log"
sim_ctl '{"p_lost":0}'
drain; is "4: drained after a lost answer" "$?" 0
snap
is "4: the lost reply posted once" \
    "$(st --arg id "$C" '[.conversations[] | select(.id == $id) | .parts[] | select(.body == "<p>Thanks, we have booked you for Monday.</p>")] | length')" 1
is "4: ... and reconciled (found by author and body)" \
    "$(sql "SELECT json_extract(j.detail, '$.reconciled') FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = 'r2' AND j.step = 'reply'")" 1

# --- 5: a deleted tag is resolved again ------------------------------------
printf '{"type":"call","call_id":"t1","caller":{"phone":"+15554000030"},"summary":"tagged","tags":["promo"]}\n' | cs enqueue - >/dev/null 2>&1
drain; is "5: t1 drained" "$?" 0
TID=$(sql "SELECT tag_id FROM tag_cache WHERE name_lower = 'promo'")
check "5: promo cached ($TID)" [ -n "$TID" ]
is "5: DELETE /tags/{id} 200" "$(api DELETE "/tags/$TID")" 200
is "5: the deleted tag is gone from GET /tags" "$(api GET /tags >/dev/null; body "[.data[] | select(.id == \"$TID\")] | length")" 0
is "5: DELETE of an unknown tag 404" "$(api DELETE "/tags/$TID")" 404
printf '{"type":"call","call_id":"t2","caller":{"phone":"+15554000031"},"summary":"tagged again","tags":["promo"]}\n' | cs enqueue - >/dev/null 2>&1
drain; is "5: t2 drained" "$?" 0
is "5: t2 delivered, not dead-lettered" "$(state_of t2)" done
snap
NTID=$(sql "SELECT tag_id FROM tag_cache WHERE name_lower = 'promo'")
check "5: the cache holds the new id ($NTID)" [ -n "$NTID" ] && [ "$NTID" != "$TID" ]
is "5: t2's conversation has promo" \
    "$(st -c --arg id "$(conv_of t2)" '[.conversations[] | select(.id == $id) | .tags[] | select(.name == "promo") | .id]')" "[\"$NTID\"]"

# --- 6: the producer SQL: record_key is the key ----------------------------
sql "INSERT INTO outbox (workspace, record_key, payload) VALUES
 ('acme', 'sql-1', '{\"type\":\"call\",\"caller\":{\"phone\":\"+15554000040\"},\"summary\":\"no key in the payload\"}'),
 ('acme', 'sql-2', '{\"type\":\"note\",\"conversation_id\":\"$C\",\"body\":\"note by SQL\"}'),
 ('acme', 'sql-3', '{\"type\":\"call\",\"key\":\"other\",\"caller\":{\"phone\":\"+15554000041\"},\"summary\":\"disagrees\"}'),
 ('acme', 'sql-4', '{\"type\":\"call\",\"call_id\":\"other\",\"caller\":{\"phone\":\"+15554000042\"},\"summary\":\"disagrees\"}')"
drain; is "6: drained" "$?" 0
is "6: a call without key or call_id delivered under record_key" "$(state_of sql-1)" done
snap
is "6: its reference line carries record_key" "$(st -r --arg id "$(conv_of sql-1)" '.conversations[] | select(.id == $id) | .body' | grep -c 'ref sql-1 ')" 1
is "6: a note without key delivered" "$(state_of sql-2)" done
is "6: a payload key that disagrees: dead, precise reason" "$(state_of sql-3)" "dead key_mismatch: key: differs from the row's record_key"
is "6: a call_id that disagrees: dead, precise reason" "$(state_of sql-4)" "dead key_mismatch: call_id: differs from the row's record_key, and the payload has no key"
is "6: nothing written for them" "$(sql "SELECT count(*) FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key IN ('sql-3', 'sql-4')")" 0

# --- 7: simulator fidelity -------------------------------------------------
is "7: a lead with an email" "$(api POST /contacts '{"role":"lead","email":"shared@example.com"}')" 200
is "7: another lead with the same email: no 409 (only users are unique by email)" \
    "$(api POST /contacts '{"role":"lead","email":"shared@example.com"}')" 200
is "7: a user with the email" "$(api POST /contacts '{"role":"user","email":"shared@example.com"}')" 200
is "7: a second user with that email: 409" "$(api POST /contacts '{"role":"user","email":"SHARED@example.com"}')" 409
mk '{"role":"lead","email":"arch@example.com","archived":true}' >/dev/null
is "7: an archived lead's email: no 409 either" "$(api POST /contacts '{"role":"lead","email":"arch@example.com"}')" 200
mk '{"role":"user","email":"arch2@example.com","archived":true}' >/dev/null
is "7: an archived user's email: 409 naming it archived (PR #543's case)" \
    "$(api POST /contacts '{"role":"lead","email":"arch2@example.com"}'),$(body '.errors[0].message' | cut -c1-19)" "409,An archived contact"
i=0; bad=0
while [ $i -lt 60 ]; do
	[ "$(api POST "/conversations/$C/reply" "{\"message_type\":\"note\",\"type\":\"admin\",\"admin_id\":\"1001\",\"body\":\"<p>part $i</p>\"}")" = 200 ] || bad=$((bad + 1))
	i=$((i + 1))
done
is "7: 60 more parts accepted" "$bad" 0
api GET "/conversations/$C" >/dev/null
is "7: GET returns every part, HTML as sent" \
    "$(body '[.conversation_parts.conversation_parts[] | select(.body | test("^<p>part [0-9]+</p>$"))] | length'),$(body '.conversation_parts.total_count == (.conversation_parts.conversation_parts | length)')" "60,true"

is "every record done but the two refused keys" "$(sql "SELECT count(*) FROM outbox WHERE state <> 'done'")" 2
"$BIN/callsync" --db "$DB" audit verify >/dev/null 2>&1
is "audit chain verifies" "$?" 0
