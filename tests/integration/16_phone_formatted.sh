#!/bin/sh
# A contact stored with a formatted phone ("+1 415-555-0199", as a teammate
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
echo "1..$TAPN"
