#!/bin/sh
# 27_tool_replay: replays that must not regress or misdirect data.
#   a. dlq edit of the caller drops the journal's contact step, its intents
#      and the attributes step, keeps the conversation that exists in
#      Intercom and says so in one line; the audit row lists what it drops;
#   b. dlq edit --dry-run and an edit that changes neither caller nor
#      conversation drop nothing;
#   c. a new conversation_id without a created conversation drops the
#      steps written on the old one;
#   d. dlq replay --dry-run shows per record the steps done (with ids), to
#      reconcile and to do, the contact the writes go to (journal,
#      explicit, identity map, or a search at delivery), that last_call_*
#      are skipped for a contact with a newer call, and changes nothing
#      (sqlite3 .dump identical).
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
"$CS" --db "$DB" init >/dev/null

call() {	# call KEY PHONE [extra JSON members]
	printf '{"type":"call","call_id":"%s","caller":{"phone":"%s"},"summary":"s","started_at":"2024-05-01T10:00:00Z","tags":["VIP"]%s}' \
	    "$1" "$2" "${3:-}"
}
dead() {	# dead KEY PAYLOAD
	sql "INSERT INTO outbox (workspace, record_key, payload, state, attempts)
	    VALUES ('acme', '$1', '$2', 'dead', 2);
	    INSERT INTO dead_letter (outbox_id, reason, class, message)
	    SELECT id, 'http_422', 'permanent', 'refused' FROM outbox WHERE record_key = '$1';"
}
steps() { sql "SELECT group_concat(step, ' ') FROM (SELECT j.step FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = '$1' ORDER BY j.step)"; }

# k1: contact and conversation done, attributes in doubt, a tag done.
dead k1 "$(call k1 +15550001111)"
sql "INSERT INTO journal (outbox_id, step, intercom_id, detail)
     SELECT id, 'contact', 'c-old', '{\"source\":\"search\"}' FROM outbox WHERE record_key = 'k1'
     UNION ALL SELECT id, 'conversation', '123', NULL FROM outbox WHERE record_key = 'k1'
     UNION ALL SELECT id, 'tag:vip', 't-1', NULL FROM outbox WHERE record_key = 'k1'
     UNION ALL SELECT id, 'intent:attributes', NULL, '{\"at\":1}' FROM outbox WHERE record_key = 'k1';
     INSERT INTO contact_identity (workspace, kind, value, contact_id, source)
     VALUES ('acme', 'phone', '+15550002222', 'c-new', 'search');"

# ---------------------------------------------------------------- (d)
sql .dump >"$T/before.dump"
out=$("$CS" --db "$DB" dlq replay --key k1 --dry-run 2>&1); rc=$?
is "replay --dry-run exits 0" "$rc" 0
printf '%s\n' "$out" | sed 's/^/# /'
check "dry run: contact done with its id" sh -c "printf '%s' \"\$1\" | grep -Eq '^  done +contact +c-old\$'" sh "$out"
check "dry run: conversation done with its id" sh -c "printf '%s' \"\$1\" | grep -Eq '^  done +conversation +123\$'" sh "$out"
check "dry run: tag done with its id" sh -c "printf '%s' \"\$1\" | grep -Eq '^  done +tag:vip +t-1\$'" sh "$out"
check "dry run: attributes in doubt are reconciled" sh -c "printf '%s' \"\$1\" | grep -Eq '^  reconcile +attributes '" sh "$out"
check "dry run: attributes to do" sh -c "printf '%s' \"\$1\" | grep -Eq '^  to do +attributes '" sh "$out"
check "dry run: writes go to the journal's contact and conversation" sh -c "printf '%s' \"\$1\" | grep -q '^  writes go to contact c-old (journal.*conversation 123\$'" sh "$out"
check "dry run: says nothing changed" sh -c "printf '%s' \"\$1\" | grep -q 'dry run: nothing changed'" sh "$out"
sql .dump >"$T/after.dump"
check "dry run: database unchanged (.dump identical)" cmp -s "$T/before.dump" "$T/after.dump"

# Contacts the dry run names: explicit, identity map, search, newer call.
dead k5 '{"type":"call","call_id":"k5","caller":{"contact_id":"aaaaaaaaaaaaaaaaaaaaaaaa"},"summary":"s"}'
dead k6 "$(call k6 +15550002222)"
dead k7 "$(call k7 +15550007777)"
sql "INSERT INTO contact_merge (workspace, from_id, into_id, how) VALUES ('acme', 'aaaaaaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbbbbbb', 'webhook');
     INSERT INTO contact_last_call VALUES ('acme', 'c-old', 1900000000, 'newer');"
out=$("$CS" --db "$DB" dlq replay --key k5 --key k6 --key k7 --key k1 --dry-run 2>&1)
printf '%s\n' "$out" | sed 's/^/# /'
check "dry run: explicit contact followed through a merge" sh -c "printf '%s' \"\$1\" | grep -q 'to do  *contact  *contact bbbbbbbbbbbbbbbbbbbbbbbb (explicit caller.contact_id aaaaaaaaaaaaaaaaaaaaaaaa, merged into bbbbbbbbbbbbbbbbbbbbbbbb)'" sh "$out"
check "dry run: contact from the identity map" sh -c "printf '%s' \"\$1\" | grep -q 'to do  *contact  *contact c-new (identity map: phone +15550002222)'" sh "$out"
check "dry run: contact resolved at delivery by search" sh -c "printf '%s' \"\$1\" | grep -q 'to do  *contact  *the contact resolved at delivery by phone/email search'" sh "$out"
check "dry run: last_call_* skipped for a contact with a newer call" sh -c "printf '%s' \"\$1\" | grep -q 'last_call_\* skipped: the contact has a newer call'" sh "$out"
sql "DELETE FROM contact_last_call"

# ---------------------------------------------------------------- (b)
call k1 +15550002222 >"$T/new.json"
sql .dump >"$T/before.dump"
out=$("$CS" --db "$DB" dlq edit --dry-run --payload "$T/new.json" k1 2>&1); rc=$?
is "edit --dry-run exits 0" "$rc" 0
check "edit --dry-run says what it would invalidate" sh -c "printf '%s' \"\$1\" | grep -q 'would invalidate journal steps: contact intent:attributes'" sh "$out"
sql .dump >"$T/after.dump"
check "edit --dry-run: database unchanged" cmp -s "$T/before.dump" "$T/after.dump"
is "edit --dry-run: journal intact" "$(steps k1)" "contact conversation intent:attributes tag:vip"

# ---------------------------------------------------------------- (a)
out=$("$CS" --db "$DB" dlq edit --payload "$T/new.json" k1 2>&1); rc=$?
is "edit of the phone exits 0" "$rc" 0
printf '%s\n' "$out" | sed 's/^/# /'
is "edit: contact and intent rows gone, conversation and tag kept" "$(steps k1)" "conversation tag:vip"
check "edit: names the caller change and the dropped steps" sh -c "printf '%s' \"\$1\" | grep -q '^acme/k1: caller changed (phone +15550001111 -> +15550002222): invalidated journal steps: contact intent:attributes\$'" sh "$out"
is "edit: one line says the conversation stays" \
    "$(printf '%s\n' "$out" | grep -c '^conversation 123 already exists in Intercom for contact c-old; it stays; notes/tags/assignment continue there$')" 1
check "edit: names the new contact" sh -c "printf '%s' \"\$1\" | grep -q 'contact c-new (identity map: phone +15550002222)'" sh "$out"
is "edit: audit row lists the invalidated steps" \
    "$(sql "SELECT json_extract(detail, '\$.invalidated') FROM audit WHERE record_key = 'k1' ORDER BY id DESC LIMIT 1")" \
    '["contact","intent:attributes"]'
is "edit: record still dead" "$(sql "SELECT state FROM outbox WHERE record_key = 'k1'")" dead
"$CS" --db "$DB" audit verify >/dev/null 2>&1
is "audit chain still verifies" "$?" 0

# A written attributes step is redone for the new contact too.
dead k2 "$(call k2 +15550001111)"
sql "INSERT INTO journal (outbox_id, step, intercom_id)
     SELECT id, 'contact', 'c-old' FROM outbox WHERE record_key = 'k2'
     UNION ALL SELECT id, 'conversation', '124' FROM outbox WHERE record_key = 'k2'
     UNION ALL SELECT id, 'attributes', 'c-old' FROM outbox WHERE record_key = 'k2'
     UNION ALL SELECT id, 'intent:assign', NULL FROM outbox WHERE record_key = 'k2';"
call k2 +15550002222 >"$T/new2.json"
out=$("$CS" --db "$DB" dlq edit --payload "$T/new2.json" k2 2>&1)
is "edit: attributes dropped, the kept conversation's intents stay" "$(steps k2)" "conversation intent:assign"
check "edit: says the attributes are written again" sh -c "printf '%s' \"\$1\" | grep -q 'attributes were written to contact c-old; they stay there and are written again to the new contact'" sh "$out"

# Same caller, other summary: nothing dropped.
dead k3 "$(call k3 +15550003333)"
sql "INSERT INTO journal (outbox_id, step, intercom_id) SELECT id, 'contact', 'c-3' FROM outbox WHERE record_key = 'k3'"
printf '%s' "$(call k3 '+1 555 000 3333')" | sed 's/"s"/"fixed"/' >"$T/new3.json"
out=$("$CS" --db "$DB" dlq edit --payload "$T/new3.json" k3 2>&1)
is "edit of the summary (same phone, other spelling) keeps the journal" "$(steps k3)" "contact"
check "edit of the summary prints no invalidation" sh -c "! printf '%s' \"\$1\" | grep -q invalidat" sh "$out"

# ---------------------------------------------------------------- (c)
dead k4 "$(call k4 +15550004444 ',"conversation_id":"900"')"
sql "INSERT INTO journal (outbox_id, step, intercom_id)
     SELECT id, 'contact', 'c-4' FROM outbox WHERE record_key = 'k4'
     UNION ALL SELECT id, 'note:1', 'p-1' FROM outbox WHERE record_key = 'k4'
     UNION ALL SELECT id, 'tag:vip', 't-1' FROM outbox WHERE record_key = 'k4'
     UNION ALL SELECT id, 'intent:assign', NULL FROM outbox WHERE record_key = 'k4';"
call k4 +15550004444 ',"conversation_id":"901"' >"$T/new4.json"
out=$("$CS" --db "$DB" dlq edit --payload "$T/new4.json" k4 2>&1)
printf '%s\n' "$out" | sed 's/^/# /'
is "edit of conversation_id drops the steps on the old one, keeps the contact" "$(steps k4)" "contact"
check "edit of conversation_id says where they go" sh -c "printf '%s' \"\$1\" | grep -q 'what was written to conversation 900 stays there; the note, tags and assignment go to 901'" sh "$out"
echo "1..$TAPN"
