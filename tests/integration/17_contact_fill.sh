#!/bin/sh
# What a call learned fills the empty name and email of an existing
# contact, never overwriting: PUT /contacts/{id} (2.16
# update_contact_request: name, email, ...) carries only the empty fields.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --attributes last_call_at:date,last_call_outcome || exit 1
write_conf
cs init >/dev/null 2>&1
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
