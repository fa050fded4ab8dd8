#!/bin/sh
# POST /conversations takes plain text (2.16 create_conversation_request.body:
# "The content of the message. HTML is not supported."); notes and replies
# take HTML ("Notes accept some HTML formatting").  The simulator stores
# the conversation's text as HTML with any markup sent escaped, as
# Intercom shows it, so a tag sent to POST /conversations shows literally.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start || exit 1
write_conf "max_body = 1024"
cs init >/dev/null 2>&1

printf '{"type":"call","call_id":"p1","caller":{"phone":"+15554100001"},"summary":"Refund <5 USD> & soon\\n\\nCall back Monday","transcript":[{"speaker":"agent","text":"Hello"},{"speaker":"caller","text":"a<b"}]}\n' | cs enqueue - >/dev/null 2>&1
awk 'BEGIN { printf("{\"type\":\"call\",\"call_id\":\"p2\",\"caller\":{\"phone\":\"+15554100002\"},\"summary\":\"Long one\",\"transcript\":[");
	for (i = 1; i <= 60; i++) printf("%s{\"speaker\":\"caller\",\"text\":\"line %03d of the call & more\"}", i > 1 ? "," : "", i);
	printf("]}\n") }' | cs enqueue - >/dev/null 2>&1
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/worker.log"
is "drain exits 0" "$?" 0
snap
M=$(sql "SELECT marker FROM outbox WHERE record_key = 'p1'")
C=$(sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = 'p1' AND j.step = 'conversation'")
sent=$(st -r --arg id "$C" '.conversations[] | select(.id == $id) | .body_sent')
is "POST /conversations body is plain text: the agent's words, line breaks, ref line" \
    "$sent" "$(printf 'Refund <5 USD> & soon\n\nCall back Monday\n\nTranscript:\nagent: Hello\ncaller: a<b\n\nref p1 %s' "$M")"
is "no markup of ours shows literally in the stored body" \
    "$(st -r --arg id "$C" '.conversations[] | select(.id == $id) | .body' | grep -c '&lt;/\?\(p\|br\)&gt;\|&amp;lt;\|&amp;amp;')" 0
is "the stored body reads as the agent wrote it" \
    "$(st -r --arg id "$C" '.conversations[] | select(.id == $id) | .body')" \
    "<p>Refund &lt;5 USD&gt; &amp; soon</p><p>Call back Monday</p><p>Transcript:<br>agent: Hello<br>caller: a&lt;b</p><p>ref p1 $M</p>"
is "the marker is one searchable word of the stored body" \
    "$(curl -s -X POST -H "Authorization: Bearer $SIM_TOKEN" -H 'Accept: application/json' -H 'Content-Type: application/json' \
    -d "{\"query\":{\"field\":\"source.body\",\"operator\":\"=\",\"value\":\"$M\"}}" "$SIM_URL/conversations/search" | jq '.total_count')" 1
C2=$(sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = 'p2' AND j.step = 'conversation'")
is "long call: conversation body plain, within max_body" \
    "$(st --arg id "$C2" '[.conversations[] | select(.id == $id) | .body_sent | select(test("<") or length > 1024)] | length')" 0
nn=$(st --arg id "$C2" '[.conversations[] | select(.id == $id) | .parts[] | select(.part_type == "note")] | length')
check "long call: transcript continues in notes ($nn)" [ "$nn" -ge 1 ]
is "notes keep HTML (paragraphs, escaped &)" \
    "$(st --arg id "$C2" '[.conversations[] | select(.id == $id) | .parts[] | select(.part_type == "note") | .body | select(startswith("<p>") and test("&amp; more"))] | length')" "$nn"
st -r --arg id "$C2" '.conversations[] | select(.id == $id) | .body, (.parts[] | select(.part_type == "note") | .body)' >"$T/long.txt"
is "every transcript line delivered once, in order" "$(grep -o 'line [0-9][0-9][0-9]' "$T/long.txt" | tr '\n' ' ')" "$(seq -f 'line %03g' 1 60 | tr '\n' ' ')"
echo "1..$TAPN"
