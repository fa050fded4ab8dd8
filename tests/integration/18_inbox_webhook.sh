#!/bin/sh
# 18_inbox_webhook: Intercom notifications on [worker] webhook_listen
# (docs/contract.md section 6), signed with curl and openssl here.
#   a. the check order: 413 (over 1 MiB), 400 (not a notification), 404
#      (an app no workspace is), 401 (no / wrong signature), then 200;
#      HEAD 200 on the path, 404 on any other path; Intercom's ping 200;
#   b. a bad or missing signature stores nothing and counts a failure;
#      a replayed request (same id) answers 200 and changes nothing;
#   c. callback_tag on a conversation makes one task (contact, phone from
#      contact_identity, reason, conversation); its retries and a new
#      notification id of the same application make none;
#   d. callback_requested = true on a contact makes one task; a stale
#      event (older updated_at) arriving later makes none and never
#      reopens it; false then true again makes a second;
#   e. two secrets during a rotation: either signs; the old one gone, 401;
#   f. /metrics carries the callsync_webhook_* and callsync_inbox_* names;
#   g. prune clears inbox rows older than 8 days.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --seed 18 || exit 1
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
printf 'old-secret-18\n' >"$T/wh.secret"; chmod 600 "$T/wh.secret"
write_conf "webhook_secret_file = $T/wh.secret
callback_tag = callback"
WPORT=$(rport)
sed -i "s/^\[worker\]\$/[worker]\nwebhook_listen = 127.0.0.1:$WPORT/" "$T/callsync.conf"
WH="http://127.0.0.1:$WPORT/v1/intercom/webhook"
listen_start "$T/callsync.conf" "$T/w.log" -v || { not_ok "worker starts"; exit 1; }
wait_for "GET /me stored the app" 20 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT app_id FROM workspace_app WHERE workspace = 'acme'\")\" = simapp01 ]"
is "GET /me's app.id_code is remembered for the workspace" \
    "$(sql "SELECT app_id FROM workspace_app WHERE workspace = 'acme'")" simapp01

sig() { printf 'sha1=%s' "$(openssl dgst -sha1 -hmac "$1" <"$2" | sed 's/.*= //')"; }
# post FILE [SIGNATURE]: the HTTP status
post() {
	if [ $# -ge 2 ]; then
		curl -s -m 10 -o "$T/ans" -w '%{http_code}' -H "X-Hub-Signature: $2" \
		    -H 'Content-Type: application/json' --data-binary @"$1" "$WH"
	else
		curl -s -m 10 -o "$T/ans" -w '%{http_code}' \
		    -H 'Content-Type: application/json' --data-binary @"$1" "$WH"
	fi
}
# note ID TOPIC ITEM-JSON [APP] > file
note() {
	printf '{"type":"notification_event","app_id":"%s","id":"%s","topic":"%s","created_at":1765000000,"delivery_attempts":1,"first_sent_at":1765000000,"data":{"type":"notification_event_data","item":%s}}' \
	    "${4:-simapp01}" "$1" "$2" "$3"
}
conv() { # ID UPDATED_AT APPLIED_AT CONTACT
	printf '{"type":"conversation","id":"%s","updated_at":%s,"contacts":{"type":"contact.list","contacts":[{"type":"contact","id":"%s"}]},"tags":{"type":"tag.list","tags":[{"type":"tag","id":"77","name":"callback","applied_at":%s,"applied_by":{"type":"admin","id":"1001"}}]},"custom_attributes":{}}' \
	    "$1" "$2" "$4" "$3"
}
ninbox() { sql "SELECT count(*) FROM inbox"; }
ntasks() { sql "SELECT count(*) FROM tasks"; }

# ---------------------------------------------------------------- (a)
head -c 1100000 /dev/zero | tr '\0' 'x' >"$T/big"
is "over 1 MiB: 413" "$(post "$T/big" "$(sig old-secret-18 "$T/big")")" 413
printf '{"hello":"world"}' >"$T/notnote"
is "not a notification: 400" "$(post "$T/notnote" "$(sig old-secret-18 "$T/notnote")")" 400
printf 'not json' >"$T/notjson"
is "not JSON: 400 (before the signature)" "$(post "$T/notjson")" 400
note n-other conversation_part.tag.created "$(conv 500 1765000000 1765000000 c1)" otherapp >"$T/other"
is "an app no workspace is: 404 (before the signature)" "$(post "$T/other")" 404
note n-1 conversation_part.tag.created "$(conv 501 1765000100 1765000100 c501)" >"$T/n1"
is "no signature: 401" "$(post "$T/n1")" 401
is "a wrong signature: 401" "$(post "$T/n1" "$(sig wrong-secret "$T/n1")")" 401
is "a signature of another body: 401" "$(post "$T/n1" "$(sig old-secret-18 "$T/other")")" 401
is "a truncated signature: 401" "$(post "$T/n1" "$(sig old-secret-18 "$T/n1" | cut -c1-30)")" 401
is "refused notifications store nothing" "$(ninbox)/$(ntasks)" "0/0"
is "HEAD on the path: 200" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -I "$WH")" 200
is "another path on webhook_listen: 404" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WPORT/metrics")" 404
is "GET on the path: 405" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$WH")" 405
note n-ping ping '{"type":"ping","message":"something"}' >"$T/ping"
is "Intercom's ping test: 200" "$(post "$T/ping" "$(sig old-secret-18 "$T/ping")")" 200
is "the ping is stored, ignored by the rules" "$(sql "SELECT topic, state FROM inbox WHERE notif_id = 'n-ping'")" "ping|ignored"

# ---------------------------------------------------------------- (b, c)
sqlw "INSERT INTO contact_identity (workspace, kind, value, contact_id, source) VALUES ('acme', 'phone', '+15550100501', 'c501', 'created')"
is "signed: 200" "$(post "$T/n1" "$(sig old-secret-18 "$T/n1")")" 200
is "one inbox row, via webhook" "$(sql "SELECT count(*), via, state, item_type, item_id FROM inbox WHERE notif_id = 'n-1'")" "1|webhook|applied|conversation|501"
is "one task, due, naming contact, phone, conversation, reason" \
    "$(sql "SELECT state, contact_id, phone, conversation_id, reason FROM tasks")" \
    "due|c501|+15550100501|501|conversation tagged callback"
is "a replay of the same request: 200" "$(post "$T/n1" "$(sig old-secret-18 "$T/n1")")" 200
note n-1b conversation.admin.replied "$(conv 501 1765000200 1765000100 c501)" >"$T/n1b"
is "another notification of the same application: 200" "$(post "$T/n1b" "$(sig old-secret-18 "$T/n1b")")" 200
is "two inbox rows, still one task" "$(ninbox)/$(ntasks)" "3/1"
wait_for "metrics" 5 curl -sf -o "$T/metrics" "$H/metrics"
is "duplicates counted in /metrics" "$(grep '^callsync_inbox_duplicates_total ' "$T/metrics" | cut -d' ' -f2)" 1
is "signature failures counted in /metrics" "$(grep '^callsync_webhook_signature_failures_total ' "$T/metrics" | cut -d' ' -f2)" 4
is "401 answers counted" "$(grep '^callsync_webhook_answers_total{status="401"} ' "$T/metrics" | cut -d' ' -f2)" 4
is "one due task in /metrics" "$(grep '^callsync_tasks_due{workspace="acme"} ' "$T/metrics" | cut -d' ' -f2)" 1
check "the oldest due task's age is there" grep -q '^callsync_tasks_oldest_due_age_seconds{workspace="acme"} [0-9]' "$T/metrics"

# ---------------------------------------------------------------- (d)
contact() { # ID UPDATED_AT VALUE
	printf '{"type":"contact","id":"%s","role":"user","phone":"+15550100%s","email":"k%s@example.com","name":"K %s","updated_at":%s,"custom_attributes":{"callback_requested":%s}}' \
	    "$1" "$1" "$1" "$1" "$2" "$3"
}
note n-k1 contact.user.updated "$(contact 700 1765000300 true)" >"$T/k1"
note n-k0 contact.user.updated "$(contact 700 1765000200 false)" >"$T/k0"
note n-k2 contact.user.updated "$(contact 700 1765000400 false)" >"$T/k2"
note n-k3 contact.user.updated "$(contact 700 1765000500 true)" >"$T/k3"
note n-kstale contact.user.updated "$(contact 700 1765000350 true)" >"$T/kstale"
is "callback_requested true: 200" "$(post "$T/k1" "$(sig old-secret-18 "$T/k1")")" 200
is "one task for contact 700 with its phone, email, name" \
    "$(sql "SELECT count(*), phone, email, name FROM tasks WHERE contact_id = '700'")" \
    "1|+15550100700|k700@example.com|K 700"
is "an older event (false) arriving later: 200" "$(post "$T/k0" "$(sig old-secret-18 "$T/k0")")" 200
is "...stored as stale" "$(sql "SELECT state FROM inbox WHERE notif_id = 'n-k0'")" stale
T700=$(sql "SELECT id FROM tasks WHERE contact_id = '700'")
curl -s -m 5 -o /dev/null -X POST -d '{"outcome":"called"}' "$H/v1/tasks/$T700/done"
is "the task is done" "$(sql "SELECT state FROM tasks WHERE id = $T700")" done
post "$T/k2" "$(sig old-secret-18 "$T/k2")" >/dev/null
post "$T/kstale" "$(sig old-secret-18 "$T/kstale")" >/dev/null
is "a stale true after false makes no task and keeps the done one done" \
    "$(sql "SELECT count(*), group_concat(state) FROM tasks WHERE contact_id = '700'")" "1|done"
post "$T/k3" "$(sig old-secret-18 "$T/k3")" >/dev/null
is "false then true again: a second request, a second task" \
    "$(sql "SELECT count(*) FROM tasks WHERE contact_id = '700' AND state = 'due'")" 1

# ---------------------------------------------------------------- (e)
printf 'old-secret-18\nnew-secret-18\n' >"$T/wh.secret.new"; chmod 600 "$T/wh.secret.new"
mv "$T/wh.secret.new" "$T/wh.secret"
note n-r1 conversation.admin.noted '{"type":"conversation","id":"601","updated_at":1765000600}' >"$T/r1"
note n-r2 conversation.admin.noted '{"type":"conversation","id":"602","updated_at":1765000600}' >"$T/r2"
is "rotation: the new secret signs (200)" "$(post "$T/r1" "$(sig new-secret-18 "$T/r1")")" 200
is "rotation: the old one still signs (200)" "$(post "$T/r2" "$(sig old-secret-18 "$T/r2")")" 200
printf 'new-secret-18\n' >"$T/wh.secret.new"; chmod 600 "$T/wh.secret.new"
sleep 0.01; mv "$T/wh.secret.new" "$T/wh.secret"
note n-r3 conversation.admin.noted '{"type":"conversation","id":"603","updated_at":1765000600}' >"$T/r3"
is "after the rotation the old secret: 401" "$(post "$T/r3" "$(sig old-secret-18 "$T/r3")")" 401
check "no secret is in the log" sh -c "! grep -q 'secret-18' '$T/w.log'"

# ---------------------------------------------------------------- (f, g)
curl -sf -o "$T/metrics" "$H/metrics"
for m in callsync_webhook_answers_total callsync_webhook_signature_failures_total \
    callsync_inbox_stored_total callsync_inbox_duplicates_total \
    callsync_inbox_tasks_made_total callsync_tasks_due \
    callsync_tasks_oldest_due_age_seconds; do
	check "/metrics has # TYPE $m" grep -q "^# TYPE $m " "$T/metrics"
done
if command -v promtool >/dev/null 2>&1; then
	check "promtool check metrics passes" sh -c "promtool check metrics <'$T/metrics' 2>&1 | grep -v -i 'counter metrics should' | grep -q . && exit 1 || exit 0"
	# The inbound half's alert rules fire as documented, and not before.
	cp contrib/prometheus/callsync.rules.yml "$T/rules.yml"
	cat >"$T/rules_test.yml" <<'EOF'
rule_files:
  - rules.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'callsync_tasks_oldest_due_age_seconds{instance="site1",workspace="acme"}'
        values: '0 0 0 960+60x20'
      - series: 'callsync_tasks_oldest_due_age_seconds{instance="site1",workspace="idle"}'
        values: '0x25'
      - series: 'callsync_webhook_answers_total{instance="site1",status="401"}'
        values: '0+20x20'
      - series: 'callsync_webhook_answers_total{instance="site1",status="200"}'
        values: '0+500x20'
      - series: 'callsync_webhook_signature_failures_total{instance="site1"}'
        values: '0+20x20'
    alert_rule_test:
      - eval_time: 6m
        alertname: CallsyncCallTasksWaiting
      - eval_time: 9m
        alertname: CallsyncCallTasksWaiting
        exp_alerts:
          - exp_labels: {severity: warning, instance: site1, workspace: acme}
            exp_annotations:
              summary: "callsync acme: a call task has been due for 22m 0s"
              description: "On site1 customers asked for a call and no voice agent is claiming the tasks (POST /v1/tasks/claim on the local API). callsync tasks ls --state due names them; /healthz says task_age past task_max_age (15 min by default)."
      - eval_time: 2m
        alertname: CallsyncWebhookRefusing
      - eval_time: 15m
        alertname: CallsyncWebhookRefusing
        exp_alerts:
          - exp_labels: {severity: warning, instance: site1}
            exp_annotations:
              summary: "callsync on site1: 300 webhook notifications refused in 15 min"
              description: "Intercom pauses an endpoint after 1,000 consecutive errors in 15 minutes and suspends a private app's subscription after 7 days of errors. callsync_webhook_answers_total by status says why: 401 a wrong client secret (webhook_secret_file), 404 an app no workspace has, 429 the receiver is shedding load, 413 bodies over 1 MiB. Polling (poll_share) heals the gap."
      - eval_time: 15m
        alertname: CallsyncWebhookSignatureFailures
        exp_alerts:
          - exp_labels: {severity: warning, instance: site1}
            exp_annotations:
              summary: "callsync on site1: 300 webhook signatures refused in 15 min"
              description: "Notifications whose X-Hub-Signature matches neither secret in webhook_secret_file: the app's client secret was rotated without adding the new one (keep both during a rotation), or someone is posting to the public endpoint."
EOF
	(cd "$T" && promtool test rules rules_test.yml) >"$T/pt.out" 2>&1
	is "promtool test rules: the inbound alerts fire when due, not before" "$?" 0
	sed 's/^/# /' "$T/pt.out" | head -30
fi
sqlw "UPDATE inbox SET received_at = unixepoch() - 9 * 86400 WHERE notif_id IN ('n-1', 'n-ping')"
before=$(ninbox)
"$BIN/callsync" --config "$T/callsync.conf" prune --older-than 30d >"$T/prune.out" 2>&1
is "prune: inbox rows older than 8 days go" "$(ninbox)" $((before - 2))
check "prune says so" grep -q "pruned 2 inbox" "$T/prune.out"
