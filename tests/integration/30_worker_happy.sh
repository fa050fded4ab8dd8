#!/bin/sh
# Happy path of every record type against the simulator: rows in SQLite,
# objects in /_sim/state, audit rows for every write.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer,plan_interest || exit 1
write_conf "escalation_team = 2001
allow_public_replies = true
route = billing:team:2002"

cat >"$T/calls.jsonl" <<'J'
{"type":"call","call_id":"c1","caller":{"phone":"(555) 201-0001","name":"Ann"},"summary":"Asked about billing","transcript":[{"speaker":"agent","text":"Hello"},{"speaker":"caller","text":"My bill is wrong"}],"outcome":"resolved","category":"billing","nps":9,"tags":["vip"],"attributes":{"plan_interest":"pro"},"started_at":"2026-11-25T08:00:00Z"}
{"type":"call","call_id":"c2","caller":{"phone":"+15552010001"},"summary":"Second call same caller","escalate":true}
{"type":"call","call_id":"c3","caller":{"email":"Bob@Example.com "},"summary":"Email only caller"}
J
"$BIN/callsync" --config "$T/callsync.conf" init >/dev/null 2>&1
"$BIN/callsync" --config "$T/callsync.conf" enqueue "$T/calls.jsonl" >/dev/null 2>&1
check "enqueue exit 0" [ $? -eq 0 ]
"$BIN/callsyncd" --config "$T/callsync.conf" --drain -vv 2>"$T/worker.log"
rc=$?
is "drain exits 0" "$rc" 0
is "3 records done" "$(sql "SELECT count(*) FROM outbox WHERE state='done'")" 3
snap
is "2 contacts created (same caller twice -> one contact)" "$(st '.contacts|length')" 2
is "3 conversations" "$(st '.conversations|length')" 3
cid=$(sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='c1' AND step='conversation'")
is "c1 tags voice-ai, vip, billing" "$(st -c --arg id "$cid" '.conversations[]|select(.id==$id)|[.tags[].name]|sort')" '["billing","vip","voice-ai"]'
is "c1 routed to billing team" "$(st -r --arg id "$cid" '.conversations[]|select(.id==$id)|.team_assignee_id')" 2002
marker=$(sql "SELECT marker FROM outbox WHERE record_key='c1'")
st -r --arg id "$cid" '.conversations[]|select(.id==$id)|.body' >"$T/body.txt"
check "c1 body: summary first, then transcript, then marker" sh -c "head -1 '$T/body.txt' | grep -q 'Asked about billing' && grep -q 'caller: My bill is wrong' '$T/body.txt' && grep -qw '$marker' '$T/body.txt'"
is "contact attributes set" "$(st -r '.contacts[]|select(.phone=="+15552010001")|.custom_attributes.last_call_outcome')" resolved
c2=$(sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='c2' AND step='conversation'")
is "c2 escalated to team 2001" "$(st -r --arg id "$c2" '.conversations[]|select(.id==$id)|.team_assignee_id')" 2001
# Refused writes (4xx: the conversation attributes this workspace has not
# created) changed nothing and have no audit row.
writes=$(st '[.requests.log[]|select(.method!="GET" and (.path|test("search")|not) and .status < 400)]|length')
audits=$(sql "SELECT count(*) FROM audit WHERE kind='write'")
is "one audit row per write the simulator received" "$audits" "$writes"
is "audit chain verifies" "$("$BIN/callsync" --config "$T/callsync.conf" audit verify >/dev/null 2>&1; echo $?)" 0

# note and reply on c1's conversation
printf '{"type":"note","key":"n1","conversation_id":"%s","body":"Internal follow-up"}\n{"type":"reply","key":"r1","conversation_id":"%s","body":"Thanks for calling"}\n' "$cid" "$cid" >"$T/more.jsonl"
"$BIN/callsync" --config "$T/callsync.conf" enqueue "$T/more.jsonl" >/dev/null 2>&1
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>>"$T/worker.log"
is "note+reply drain exits 0" "$?" 0
snap
is "note added as admin note" "$(st --arg id "$cid" '[.conversations[]|select(.id==$id)|.parts[]|select(.part_type=="note" and (.body|test("Internal follow-up")))]|length')" 1
is "reply added as comment" "$(st --arg id "$cid" '[.conversations[]|select(.id==$id)|.parts[]|select(.part_type=="comment")]|length')" 1
check "no token in worker log" sh -c "! grep -q '$SIM_TOKEN' '$T/worker.log'"
check "no token in database" sh -c "! grep -aq '$SIM_TOKEN' '$DB' '$DB-wal' 2>/dev/null"

# A transcript too long for one body continues in internal notes, in
# order, each with its own marker; the conversation body comes first.
sed -i 's/^max_body = .*//' "$T/callsync.conf"
printf 'max_body = 1024\n' >>"$T/callsync.conf"
awk 'BEGIN { printf("{\"type\":\"call\",\"call_id\":\"long1\",\"caller\":{\"phone\":\"+15552010009\"},\"summary\":\"Long call\",\"transcript\":[");
	for (i = 1; i <= 60; i++) printf("%s{\"speaker\":\"caller\",\"text\":\"line %03d of a long call transcript\"}", i > 1 ? "," : "", i);
	printf("]}\n") }' >"$T/long.jsonl"
"$BIN/callsync" --config "$T/callsync.conf" enqueue "$T/long.jsonl" >/dev/null 2>&1
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>>"$T/worker.log"
is "long transcript drain exits 0" "$?" 0
snap
lc=$(sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='long1' AND step='conversation'")
lm=$(sql "SELECT marker FROM outbox WHERE record_key='long1'")
nnotes=$(st --arg id "$lc" '[.conversations[]|select(.id==$id)|.parts[]|select(.part_type=="note")]|length')
check "transcript continued in at least 2 notes ($nnotes)" [ "$nnotes" -ge 2 ]
st -r --arg id "$lc" '.conversations[]|select(.id==$id)|.body, (.parts[]|select(.part_type=="note")|.body)' >"$T/long.txt"
is "every line of the transcript delivered once, in order" "$(grep -o 'line [0-9][0-9][0-9]' "$T/long.txt" | tr '\n' ' ')" "$(seq -f 'line %03g' 1 60 | tr '\n' ' ')"
is "each piece carries its own marker" "$(grep -o "${lm}[n0-9]*" "$T/long.txt" | sort -u | wc -l)" "$((nnotes + 1))"
is "no body over max_body" "$(st --arg id "$lc" '[.conversations[]|select(.id==$id)|.body, (.parts[]|select(.part_type=="note")|.body)|select(length > 1024)]|length')" 0
