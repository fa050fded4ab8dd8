#!/bin/sh
# Searches follow pages.next.starting_after (2.16 cursor_pages /
# starting_after_paging; the cursor goes in the body's pagination) where
# every match matters: dedupe by phone or email.  A user on page 2 of a
# search wins over 55 leads on page 1 (search answers 50 per page by
# default, per the 2.16 description of POST /contacts/search).
. "$(dirname "$0")/lib.sh"
t_setup
sim_start || exit 1
write_conf
cs init >/dev/null 2>&1

i=0
while [ $i -lt 55 ]; do
	sim_contact '{"role":"lead","phone":"+15554400001"}' >/dev/null
	sim_contact "{\"role\":\"lead\",\"email\":\"pager@example.com\"}" >/dev/null
	i=$((i + 1))
done
U=$(sim_contact '{"role":"user","phone":"+15554400001","name":"The User"}')
E=$(sim_contact '{"role":"user","email":"pager@example.com","name":"Email User"}')
printf '%s\n' '{"type":"call","call_id":"p1","caller":{"phone":"+15554400001"},"summary":"paged by phone"}' \
    '{"type":"call","call_id":"p2","caller":{"email":"pager@example.com"},"summary":"paged by email"}' | cs enqueue - >/dev/null 2>&1
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/worker.log"
is "drained" "$?" 0
snap
is "p1 (phone) landed on the user of page 2" "$(journal_contact p1)" "$U"
is "p2 (email) landed on the user of page 2" "$(journal_contact p2)" "$E"
n=$(st '[.requests.log[] | select(.path == "/contacts/search")] | length')
is "two pages read per search (4 requests)" "$n" 4
is "no contact created" "$(st '.contacts | length')" 112
is "the leads of both pages are known duplicates" \
    "$(sql "SELECT count(*) FROM contact_duplicate")" 110
echo "1..$TAPN"
