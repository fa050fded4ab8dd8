#!/bin/sh
# Contacts as real Intercom holds them.  A contact stored with a formatted phone ("+1 415-555-0199", as a teammate
# types it in Intercom) is found by a call from its E.164 number: no
# duplicate lead.  Contact search is exact on the stored `phone` string
# (2.16 POST /contacts/search); 2.16 also lists `formatted_phone` as
# searchable, which the Preview description defines as the phone
# "normalized to the E164 format".  The simulator models that
# (behaviours.formatted_phone, unverified); with it off the worker must
# still find the formatted national forms by `phone`.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start || exit 1
write_conf
cs init >/dev/null 2>&1

call() { printf '{"type":"call","call_id":"%s","caller":{"phone":"%s"},"summary":"Called again"}\n' "$1" "$2" | cs enqueue - >/dev/null 2>&1; }
A=$(sim_contact '{"role":"user","phone":"+1 415-555-0199","name":"Ann Formatted","email":"ann@example.com"}')
call f1 "+14155550199"
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/worker.log"
is "f1 drained" "$?" 0
snap
is "f1 landed on the contact stored as '+1 415-555-0199'" "$(journal_contact f1)" "$A"
is "f1: no lead created" "$(st '[.contacts[] | select(.role == "lead")] | length')" 0
is "f1: the conversation is the contact's" "$(conv_contact f1)" "$A"

# Without formatted_phone (its content is unverified): the formatted
# national forms searched by phone still find the contact.
sim_ctl '{"behaviours":{"formatted_phone":false}}'
B=$(sim_contact '{"role":"lead","phone":"(415) 555-0100","name":"Bob Paren"}')
C=$(sim_contact '{"role":"lead","phone":"415-555-0101"}')
D=$(sim_contact '{"role":"lead","phone":"+1 (415) 555-0102"}')
call f2 "+14155550100"
call f3 "(415) 555-0101"
call f4 "+1 415 555 0102"
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>>"$T/worker.log"
is "f2-f4 drained" "$?" 0
snap
is "f2 found '(415) 555-0100'" "$(journal_contact f2)" "$B"
is "f3 found '415-555-0101'" "$(journal_contact f3)" "$C"
is "f4 found '+1 (415) 555-0102'" "$(journal_contact f4)" "$D"
is "no contact created by f1-f4" "$(st '.contacts | length')" 4
is "each contact search was one request (one OR query)" \
    "$(st '[.requests.log[] | select(.path == "/contacts/search")] | length')" 4

# A workspace that refuses formatted_phone (400): searched by the phone
# forms alone, nothing dead-lettered.
sim_ctl '{"behaviours":{"formatted_phone_400":true}}'
G=$(sim_contact '{"role":"lead","phone":"+1 415-555-0103"}')
call f5 "+14155550103"
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>>"$T/worker.log"
is "f5 drained" "$?" 0
is "f5 found '+1 415-555-0103' by phone alone" "$(journal_contact f5)" "$G"
check "the refusal is said" grep -q "formatted_phone refused (HTTP 400); searching by phone alone" "$T/worker.log"
sim_ctl '{"behaviours":{"formatted_phone_400":false}}'

# --- What a call learned fills the empty name and email of an existing
# contact, never overwriting: PUT /contacts/{id} (2.16
# update_contact_request: name, email, ...) carries only the empty fields.
sim_ctl '{"behaviours":{"formatted_phone":true}}'
drain() { "$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>>"$T/worker.log"; }
contact() { st -r --arg id "$1" ".contacts[] | select(.id == \$id) | $2"; }

# A lead made by a first call without a name; a later call gives it.
printf '{"type":"call","call_id":"n1","caller":{"phone":"+15554200001"},"summary":"no name yet"}\n' | cs enqueue - >/dev/null 2>&1
drain; is "n1 drained" "$?" 0
printf '{"type":"call","call_id":"n2","caller":{"phone":"+15554200001","name":"Nina Caller","email":"nina@example.com"},"summary":"now with a name"}\n' | cs enqueue - >/dev/null 2>&1
drain; is "n2 drained" "$?" 0
snap
L=$(journal_contact n1)
is "n2 used n1's lead" "$(journal_contact n2)" "$L"
is "the lead got the caller's name" "$(contact "$L" .name)" "Nina Caller"
is "the lead got the caller's email" "$(contact "$L" .email)" "nina@example.com"

# Never overwrite: a contact with a name and email keeps them.
U=$(sim_contact '{"role":"user","phone":"+15554200002","name":"Real Name","email":"real@example.com"}')
printf '{"type":"call","call_id":"n3","caller":{"phone":"+15554200002","name":"Guessed Name","email":"other@example.com"},"summary":"known caller"}\n' | cs enqueue - >/dev/null 2>&1
drain; is "n3 drained" "$?" 0
snap
is "n3 on the user" "$(journal_contact n3)" "$U"
is "name kept" "$(contact "$U" .name)" "Real Name"
is "email kept" "$(contact "$U" .email)" "real@example.com"

# Only the empty field is sent: a named contact without an email.
V=$(sim_contact '{"role":"lead","phone":"+15554200003","name":"Has Name"}')
printf '{"type":"call","call_id":"n4","caller":{"phone":"+15554200003","name":"Other Name","email":"vee@example.com"},"summary":"email only missing"}\n' | cs enqueue - >/dev/null 2>&1
drain; is "n4 drained" "$?" 0
snap
is "n4: name kept, email filled" "$(contact "$V" '.name + " " + .email')" "Has Name vee@example.com"
echo "1..$TAPN"
