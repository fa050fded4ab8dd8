#!/bin/sh
# 91_context_merge: a live /v1/context read that meets a merged or
# vanished contact answers with the survivor and records the merge as
# the drain does (contact_merge, the identity map), so the next read and
# the drain go to the survivor, exactly once.
#   1. 410 with a Link: the drain created lead L for caller P1; a read
#      shows L; Intercom merges L into user U; the next read shows U
#      (live), contact_merge L -> U link_410, the map moved to U; a later
#      read and a drained call for P1 go straight to U (no request to L).
#   2. 404, then the search finds the survivor: the map points P2 to a
#      contact Intercom no longer has; the read searches again, shows B,
#      records GONE -> B search_404 and maps P2 to B; the drain follows.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --seed 91 || exit 1
cs init >/dev/null 2>&1
write_conf "rate_limit = 0"
# A generous deadline: the second round (the survivor's reads) must fit
# on a loaded machine; the answer's sources say whether it was live.
sed -i "s|^\[worker\]\$|[worker]\ncontext_deadline_ms = 5000|" "$T/callsync.conf"
listen_start "$T/callsync.conf" "$T/w.log" -v
check "worker serves /livez" [ $? -eq 0 ]
wait_for "acme ready" 20 sh -c "curl -s $H/healthz | jq -e '.workspaces.acme.state != \"starting\"' >/dev/null"

mk() { sim_contact "$1"; }
ctx() { curl -s -m 10 -o "$T/body" -w '%{http_code}' "$H/v1/context?workspace=acme&$1"; }
call() { printf '{"type":"call","call_id":"%s","caller":%s,"summary":"call %s"}\n' "$1" "$2" "$1"; }
done_() { [ "$(sql "SELECT state FROM outbox WHERE record_key='$1'")" = done ]; }
deliver() {
	call "$1" "$2" >"$T/$1.jsonl"
	enqueue_sql "$T/$1.jsonl"
	wait_for "$1 delivered" 60 done_ "$1"
}
# reqs METHOD PATH: requests the simulator received for exactly PATH.
reqs() { snap; st --arg m "$1" --arg p "$2" '[.requests.log[] | select(.method == $m and .path == $p)] | length'; }
creates() { snap; st '[.requests.log[] | select(.method == "POST" and .path == "/contacts" and .status == 200)] | length'; }
# convs KEY: conversations holding the record's marker (snap first).
convs() {
	m=$(sql "SELECT marker FROM outbox WHERE record_key='$1'")
	st --arg m "$m" '[.conversations[] | select(.body | contains($m))] | length'
}

# --- 1: 410 with a Link ----------------------------------------------------
P1=%2B15557000001
deliver m1 '{"phone":"+15557000001"}'
L=$(journal_contact m1)
is "1: the map holds the lead the drain created" "$(sql "SELECT contact_id FROM contact_identity WHERE kind='phone' AND value='+15557000001'")" "$L"
is "1: read before the merge: 200" "$(ctx "phone=$P1")" 200
is "1: read before the merge: the lead, live" "$(jq -c '[.contact.id, .sources.contact]' "$T/body")" "[\"$L\",\"live\"]"
U=$(mk '{"role":"user","phone":"+15557000001","email":"survivor@example.com","name":"Survivor"}')
sim_merge "$L" "$U"
is "1: read after the merge: 200" "$(ctx "phone=$P1")" 200
is "1: read after the merge: the survivor" "$(jq -r .contact.id "$T/body")" "$U"
is "1: ... with its own fields" "$(jq -c '[.contact.name, .contact.email]' "$T/body")" '["Survivor","survivor@example.com"]'
is "1: ... every part live" "$(jq -c '[.source, .sources.contact, .sources.conversations, .sources.tickets, .sources.company]' "$T/body")" '["live","live","live","live","live"]'
is "1: contact_merge L -> U, how link_410 (as the drain records it)" "$(sql "SELECT into_id || '|' || how FROM contact_merge WHERE workspace='acme' AND from_id='$L'")" "$U|link_410"
is "1: the map now points the caller to U (source merge, role user)" "$(sql "SELECT contact_id || '|' || source || '|' || role FROM contact_identity WHERE kind='phone' AND value='+15557000001'")" "$U|merge|user"
check "1: the worker logged the merge" grep -q "contact $L was merged into $U" "$T/w.log"
nL=$(reqs GET "/contacts/$L")
is "1: L was read twice (200, then 410)" "$nL" 2
is "1: the next read: the survivor" "$(ctx "phone=$P1" >/dev/null; jq -c '[.contact.id, .sources.contact]' "$T/body")" "[\"$U\",\"live\"]"
is "1: ... without asking for L again" "$(reqs GET "/contacts/$L")" "$nL"
deliver m2 '{"phone":"+15557000001"}'
is "1: the drained call lands on the survivor" "$(journal_contact m2)" "$U"
is "1: ... its conversation is U's" "$(snap; conv_contact m2)" "$U"
is "1: ... exactly one conversation for it" "$(convs m2)" 1
is "1: the drain never asked for L" "$(reqs GET "/contacts/$L")" "$nL"
is "1: no contact created besides the first lead" "$(creates)" 1

# --- 2: 404, the search finds the survivor --------------------------------
B=$(mk '{"role":"user","phone":"+15557000002","name":"Bea"}')
GONE=65aa00000000000000000404
sql "INSERT INTO contact_identity (workspace, kind, value, contact_id, role, source) VALUES ('acme', 'phone', '+15557000002', '$GONE', 'user', 'search')"
is "2: read: 200" "$(ctx "phone=%2B15557000002")" 200
is "2: the contact the search found, live" "$(jq -c '[.contact.id, .contact.name, .source]' "$T/body")" "[\"$B\",\"Bea\",\"live\"]"
is "2: GONE was asked for once (404)" "$(reqs GET "/contacts/$GONE")" 1
is "2: contact_merge GONE -> B, how search_404" "$(sql "SELECT into_id || '|' || how FROM contact_merge WHERE workspace='acme' AND from_id='$GONE'")" "$B|search_404"
is "2: the map points the caller to B" "$(sql "SELECT contact_id FROM contact_identity WHERE kind='phone' AND value='+15557000002'")" "$B"
is "2: the next read: B, without asking for GONE" "$(ctx "phone=%2B15557000002" >/dev/null; jq -r .contact.id "$T/body")|$(reqs GET "/contacts/$GONE")" "$B|1"
deliver m3 '{"phone":"+15557000002"}'
is "2: the drained call lands on B" "$(journal_contact m3)" "$B"
is "2: ... exactly one conversation for it" "$(snap; convs m3)" 1
is "2: ... on B" "$(conv_contact m3)" "$B"
is "2: the drain never asked for GONE" "$(reqs GET "/contacts/$GONE")" 1
is "2: still no contact created by callsync but the first lead" "$(creates)" 1
echo "1..$TAPN"
