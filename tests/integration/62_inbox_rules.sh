#!/bin/sh
# 62_inbox_rules: the rules beyond callback_tag, end to end through the
# simulator's own webhooks (signed, each delivered 3 times, shuffled).
# An admin acts in the simulator through its API, as in Intercom's inbox:
#   a. callback_team: assigning a conversation to the team makes one
#      task (conversation.admin.assigned, 3 copies: one task); later
#      events while it stays assigned make none; away and back: another;
#   b. callback_note: an admin note holding the phrase (markup and case
#      aside) makes one task per note; a note without it and a customer
#      reply holding it make none;
#   c. the worker's own writes are notifications too (its notes and
#      assignments come back as webhooks) and make no task.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --seed 62 || exit 1
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
printf 'rules-secret-62\n' >"$T/wh.secret"; chmod 600 "$T/wh.secret"
write_conf "webhook_secret_file = $T/wh.secret
callback_team = 2001
callback_note = please call
escalation_team = 2002"
WPORT=$(rport)
sed -i "s/^\[worker\]\$/[worker]\nwebhook_listen = 127.0.0.1:$WPORT/" "$T/callsync.conf"
listen_start "$T/callsync.conf" "$T/w.log" -v || { not_ok "worker starts"; exit 1; }
wait_for "GET /me stored the app" 20 sh -c "[ -n \"\$(sqlite3 '$DB' \"SELECT app_id FROM workspace_app\")\" ]"
curl -sf -X POST -d "{\"url\":\"http://127.0.0.1:$WPORT/v1/intercom/webhook\",\"secret\":\"rules-secret-62\",\"copies\":3,\"shuffle\":true}" \
    "$SIM_CTL/_sim/webhooks" >/dev/null
check "the simulator sends webhooks to the worker" [ $? -eq 0 ]

# api METHOD PATH BODY: the simulator's API as an admin would use it.
api() {
	curl -s -m 10 -o "$T/ans" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $SIM_TOKEN" \
	    -H 'Intercom-Version: 2.16' -H 'Content-Type: application/json' -d "$3" "$SIM_URL$2"
}
mkconv() { # PHONE: a contact and its conversation; prints the conversation id
	k=$(curl -sf -X POST -d "{\"role\":\"user\",\"phone\":\"$1\"}" "$SIM_CTL/_sim/contacts" | jq -r .id)
	curl -sf -X POST -d "{\"contact_ids\":[\"$k\"],\"body\":\"hello\"}" "$SIM_CTL/_sim/conversations" | jq -r .id
}
assign() { api POST "/conversations/$1/parts" "{\"message_type\":\"assignment\",\"type\":\"team\",\"admin_id\":\"1001\",\"assignee_id\":\"$2\"}"; }
anote() { api POST "/conversations/$1/reply" "{\"message_type\":\"note\",\"type\":\"admin\",\"admin_id\":\"1001\",\"body\":\"$2\"}"; }
drained() {
	curl -sf "$SIM_CTL/_sim/webhooks" >"$T/wh.json" &&
	    [ "$(jq '.queued + .inflight' "$T/wh.json")" -eq 0 ] &&
	    [ "$(jq .acked_copies "$T/wh.json")" -eq "$(($(jq .notifications "$T/wh.json") * 3))" ]
}
rule_n() { sql "SELECT count(*) FROM tasks WHERE rule = '$1'"; }

C1=$(mkconv +15550106201); C2=$(mkconv +15550106202); C3=$(mkconv +15550106203)
check "three conversations ($C1 $C2 $C3)" [ -n "$C1" ] && [ -n "$C2" ] && [ -n "$C3" ]

# ---------------------------------------------------------------- (a)
is "assign C1 to team 2001: 200" "$(assign "$C1" 2001)" 200
is "assign C2 to team 2002 (not the callback team): 200" "$(assign "$C2" 2002)" 200
wait_for "the webhooks delivered" 60 drained
is "one team task, for C1" "$(sql "SELECT count(*) || '|' || group_concat(conversation_id) || '|' || group_concat(reason) FROM tasks WHERE rule = 'team'")" "1|$C1|conversation assigned to team 2001"
is "...naming C1's contact" "$(sql "SELECT count(*) FROM tasks WHERE rule = 'team' AND contact_id IS NOT NULL")" 1
is "a note on C1 while it stays assigned: 200" "$(anote "$C1" "waiting for the customer")" 200
wait_for "the webhooks delivered" 60 drained
is "...still one team task" "$(rule_n team)" 1
is "C1 away (unassigned): 200" "$(assign "$C1" 0)" 200
wait_for "the webhooks delivered" 60 drained
is "C1 back to team 2001: 200" "$(assign "$C1" 2001)" 200
wait_for "the webhooks delivered" 60 drained
is "away and back: a second team task" "$(rule_n team)" 2

# ---------------------------------------------------------------- (b)
is "an admin note asking for a call on C3: 200" "$(anote "$C3" "<p>Customer: <b>Please</b> CALL after 5pm</p>")" 200
is "a note without the phrase on C2: 200" "$(anote "$C2" "<p>called, all fine</p>")" 200
is "a customer's reply holding the phrase on C2: 200" \
    "$(api POST "/conversations/$C2/reply" "{\"message_type\":\"comment\",\"type\":\"user\",\"intercom_user_id\":\"$(sim_state | jq -r --arg c "$C2" '.conversations[] | select(.id == $c) | .contact_ids[0] // .contacts[0].id // empty')\",\"body\":\"please call me\"}")" 200
wait_for "the webhooks delivered" 60 drained
is "one note task, for C3" "$(sql "SELECT count(*) || '|' || group_concat(conversation_id) || '|' || group_concat(reason) FROM tasks WHERE rule = 'note'")" "1|$C3|admin note asks for a call"
is "a second note asking on C3: 200" "$(anote "$C3" "please call again tomorrow")" 200
wait_for "the webhooks delivered" 60 drained
is "one task per note: two" "$(rule_n note)" 2
is "every copy answered 200 and stored once" "$(sql "SELECT count(*) = count(DISTINCT notif_id) FROM inbox")" 1

# ---------------------------------------------------------------- (c)
# A call escalated to team 2002 (not the callback team) writes notes and
# an assignment; their webhooks come back and make no task.
echo '{"type":"call","call_id":"r62-1","caller":{"phone":"+15550106209"},"summary":"the worker writes; webhooks come back","escalate":true}' >"$T/c.jsonl"
enqueue_sql "$T/c.jsonl"
wait_for "the call delivered" 30 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT state FROM outbox WHERE record_key = 'r62-1'\")\" = done ]"
wait_for "the webhooks delivered" 60 drained
check "the worker's writes came back as notifications" \
    [ "$(sql "SELECT count(*) FROM inbox WHERE topic LIKE 'conversation.admin.%'")" -ge 8 ]
is "...and made no task (tasks: 2 team, 2 note)" "$(sql "SELECT count(*) FROM tasks")" 4
diag "webhooks: $(cat "$T/wh.json")"

# ---------------------------------------------------------------- (d)
# A workspace added by SIGHUP is received at once (it was refused 404
# until a restart): a second Intercom app (its own simulator, app
# simapp62), a secret of its own, a signed notification of its app.
"$BIN/intercom-sim" --port 0 --port-file "$T/g.port" --control-port 0 \
    --control-port-file "$T/g.cport" --token "$SIM_TOKEN" --app-id simapp62 \
    --seed 63 >"$T/g.log" 2>&1 &
PIDS="$PIDS $!"
wait_for "the second app's simulator" 10 test -s "$T/g.cport" || exit 1
printf 'globex-secret-62\n' >"$T/g.secret"; chmod 600 "$T/g.secret"
cat >>"$T/callsync.conf" <<CONF

[workspace globex]
api_base = http://127.0.0.1:$(cat "$T/g.port")
token_file = $T/acme.token
intercom_version = 2.16
admin_id = 1001
request_timeout = 5
webhook_secret_file = $T/g.secret
callback_tag = callback
CONF
kill -HUP "$WPID"
wait_for "GET /me of globex stored its app" 20 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT app_id FROM workspace_app WHERE workspace = 'globex'\")\" = simapp62 ]"
check "SIGHUP: globex is app simapp62" [ $? -eq 0 ]
# The customer, a contact of the second app: the task's phone is read
# from it (the phone fill-in serves the new workspace too).
GK=$(curl -sf -X POST -d '{"role":"user","phone":"+15550106299"}' "http://127.0.0.1:$(cat "$T/g.cport")/_sim/contacts" | jq -r .id)
check "a contact in the second app ($GK)" [ -n "$GK" ]
printf '{"type":"notification_event","app_id":"simapp62","id":"g-1","topic":"conversation_part.tag.created","created_at":1765000000,"data":{"type":"notification_event_data","item":{"type":"conversation","id":"9001","updated_at":1765000100,"contacts":{"type":"contact.list","contacts":[{"type":"contact","id":"%s"}]},"tags":{"type":"tag.list","tags":[{"type":"tag","id":"5","name":"callback","applied_at":1765000100}]}}}}' "$GK" >"$T/g1.json"
gsig="sha1=$(openssl dgst -sha1 -hmac globex-secret-62 <"$T/g1.json" | sed 's/.*= //')"
is "a signed notification of the new workspace's app: 200" \
    "$(curl -s -m 10 -o "$T/gans" -w '%{http_code}' -H "X-Hub-Signature: $gsig" -H 'Content-Type: application/json' --data-binary @"$T/g1.json" "http://127.0.0.1:$WPORT/v1/intercom/webhook")" 200
is "...one task in globex" "$(sql "SELECT count(*) FROM tasks WHERE workspace = 'globex' AND conversation_id = '9001'")" 1
g_phone() { [ "$(sql "SELECT phone FROM tasks WHERE workspace = 'globex' AND conversation_id = '9001'")" = +15550106299 ]; }
wait_for "the new workspace's task phone" 60 g_phone
check "...its phone read from the second app's contact" [ $? -eq 0 ]
is "acme's secret does not sign for globex: 401" \
    "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "X-Hub-Signature: sha1=$(openssl dgst -sha1 -hmac rules-secret-62 <"$T/g1.json" | sed 's/.*= //')" --data-binary @"$T/g1.json" "http://127.0.0.1:$WPORT/v1/intercom/webhook")" 401
