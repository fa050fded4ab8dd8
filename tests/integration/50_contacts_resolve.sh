#!/bin/sh
# Contact resolution against pre-existing Intercom contacts (issue #5):
# phone stored in a non-E.164 form, email of another case, several
# matches for one phone (deterministic winner, duplicates recorded),
# explicit caller.contact_id, the identity map and its tool views,
# invalid numbers.  callsync never creates a duplicate contact.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start || exit 1
write_conf

# --- helpers (local to this script) ---------------------------------
# mk JSON: create a contact directly in the simulator (no lag, no 409);
# prints its id.
mk() {
	curl -sf -X POST -H 'Content-Type: application/json' -d "$1" \
	    "$SIM_CTL/_sim/contacts" | jq -r .id
}
ident() { sql "SELECT contact_id || '|' || coalesce(role, '') || '|' || source FROM contact_identity WHERE workspace = 'acme' AND kind = '$1' AND value = '$2'"; }
dead() { sql "SELECT d.reason || '|' || d.message FROM dead_letter d JOIN outbox o ON o.id = d.outbox_id WHERE o.record_key = '$1'"; }

# --- Intercom as we find it -------------------------------------------
# Stored without '+' (international digits) and in national form.
P1=$(mk '{"role":"lead","phone":"15551230001","name":"Intl Digits"}')
P2=$(mk '{"role":"lead","phone":"5551230002","name":"National"}')
# An email stored with capitals.
P3=$(mk '{"role":"user","email":"Bob@Example.COM","name":"Bob"}')
# Three contacts share +15551230003: a lead updated recently, a user
# updated earlier, another lead.  The user wins.
L1=$(mk '{"role":"lead","phone":"+15551230003","updated_at":1800000000}')
U3=$(mk '{"role":"user","phone":"15551230003","email":"u3@example.com","updated_at":1700000000}')
L2=$(mk '{"role":"lead","phone":"5551230003","updated_at":1750000000}')
# Two leads only: the most recently updated wins.
LO=$(mk '{"role":"lead","phone":"+15551230004","updated_at":1700000000}')
LN=$(mk '{"role":"lead","phone":"+15551230004","updated_at":1800000000}')
# Two leads, same updated_at: the smallest id wins.
TA=$(mk '{"role":"lead","phone":"+15551230005","updated_at":1750000000}')
TB=$(mk '{"role":"lead","phone":"+15551230005","updated_at":1750000000}')
# A user given explicitly by its id.
EX=$(mk '{"role":"user","email":"explicit@example.com"}')
snap
N0=$(st '.contacts | length')
is "11 contacts set up in the simulator" "$N0" 11

cat >"$T/calls.jsonl" <<J
{"type":"call","call_id":"r1","caller":{"phone":"+1 (555) 123-0001"},"summary":"phone stored as 15551230001"}
{"type":"call","call_id":"r2","caller":{"phone":"555-123-0002"},"summary":"phone stored as national 5551230002"}
{"type":"call","call_id":"r3","caller":{"email":"BOB@example.com "},"summary":"email of another case"}
{"type":"call","call_id":"r4","caller":{"phone":"+15551230003"},"summary":"three matches"}
{"type":"call","call_id":"r5","caller":{"phone":"+15551230004"},"summary":"two leads"}
{"type":"call","call_id":"r6","caller":{"phone":"+15551230005"},"summary":"two leads, a tie"}
{"type":"call","call_id":"r7","caller":{"contact_id":"$EX"},"summary":"explicit contact id"}
{"type":"call","call_id":"r8","caller":{"phone":"+15551230007","email":"New.Caller@Example.com"},"summary":"a new caller"}
{"type":"call","call_id":"bad1","caller":{"phone":"12"},"summary":"too short"}
{"type":"call","call_id":"bad2","caller":{"phone":"abc"},"summary":"letters"}
{"type":"call","call_id":"bad3","caller":{"phone":"+999999999999999999"},"summary":"too long"}
{"type":"call","call_id":"bad4","caller":{"contact_id":"665f0000000000000000dead"},"summary":"unknown explicit id"}
J
cs init >/dev/null 2>&1
cs enqueue "$T/calls.jsonl" >/dev/null 2>&1
is "enqueue exit 0" "$?" 0
drain_until_done 4
is "drain completes" "$?" 0
snap
# Later calls of known callers: the map answers, in a new worker run.
cat >"$T/calls2.jsonl" <<J
{"type":"call","call_id":"r9","caller":{"phone":"(555) 123-0007"},"summary":"the new caller again, by phone"}
{"type":"call","call_id":"r10","caller":{"email":"new.caller@example.com"},"summary":"the new caller again, by email"}
{"type":"call","call_id":"r11","caller":{"phone":"5551230001"},"summary":"P1 again: the map"}
J
cs enqueue "$T/calls2.jsonl" >/dev/null 2>&1
drain_until_done 4
is "second drain completes" "$?" 0
is "second drain: no search, no create (all from the map)" \
    "$(sim_state | jq '[.requests.log[] | select(.path == "/contacts/search" or .path == "/contacts")] | length')" \
    "$(st '[.requests.log[] | select(.path == "/contacts/search" or .path == "/contacts")] | length')"
snap

is "r1: phone stored as '15551230001' found (journal)" "$(journal_contact r1)" "$P1"
is "r1: conversation on that contact" "$(conv_contact r1)" "$P1"
is "r2: national form '5551230002' found" "$(conv_contact r2)" "$P2"
is "r3: email found case-insensitively" "$(conv_contact r3)" "$P3"
is "r4: three matches -> the user" "$(conv_contact r4)" "$U3"
is "r4: the two leads recorded as duplicates of the user" \
    "$(sql "SELECT contact_id || '>' || winner_id || '>' || identity FROM contact_duplicate WHERE workspace='acme' AND winner_id='$U3' ORDER BY contact_id" | tr '\n' ' ')" \
    "$(printf '%s\n%s\n' "$L1>$U3>phone:+15551230003" "$L2>$U3>phone:+15551230003" | sort | tr '\n' ' ')"
is "r5: two leads -> the most recently updated" "$(conv_contact r5)" "$LN"
is "r5: the older lead is a recorded duplicate" "$(sql "SELECT winner_id FROM contact_duplicate WHERE contact_id='$LO'")" "$LN"
first=$(printf '%s\n%s\n' "$TA" "$TB" | sort | head -1)
is "r6: equal updated_at -> the smallest id" "$(conv_contact r6)" "$first"
is "r7: explicit caller.contact_id used as is" "$(conv_contact r7)" "$EX"
is "r7: journal says explicit" "$(sql "SELECT json_extract(detail, '\$.source') FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='r7' AND step='contact'")" explicit
NEW=$(journal_contact r8)
check "r8: a new caller gets a contact" [ -n "$NEW" ]
is "r8: created as a lead with phone and email" "$(st -r --arg id "$NEW" '.contacts[] | select(.id == $id) | [.role, .phone, .email] | join(" ")')" "lead +15551230007 new.caller@example.com"
is "r9: same caller by phone -> the same contact" "$(conv_contact r9)" "$NEW"
is "r10: same caller by email -> the same contact" "$(conv_contact r10)" "$NEW"
is "r11: P1 again through the map" "$(conv_contact r11)" "$P1"
is "r9..r11: the map keeps how an identity was learned (not overwritten by 'map')" \
    "$(sql "SELECT count(*) FROM contact_identity WHERE source = 'map'")" 0
is "r11: journal source map" "$(sql "SELECT json_extract(detail, '\$.source') FROM journal j JOIN outbox o ON o.id=j.outbox_id WHERE o.record_key='r11' AND step='contact'")" map

# The identity map.
is "map: phone +15551230001" "$(ident phone +15551230001)" "$P1|lead|search"
is "map: phone +15551230002" "$(ident phone +15551230002)" "$P2|lead|search"
is "map: email bob@example.com (lower-cased)" "$(ident email bob@example.com)" "$P3|user|search"
is "map: phone +15551230003 -> the user" "$(ident phone +15551230003)" "$U3|user|search"
is "map: phone +15551230007 created" "$(ident phone +15551230007)" "$NEW|lead|created"
is "map: email new.caller@example.com created" "$(ident email new.caller@example.com)" "$NEW|lead|created"
is "map: no row holds a non-normalised value" \
    "$(sql "SELECT count(*) FROM contact_identity WHERE (kind='phone' AND value NOT GLOB '+[1-9]*') OR (kind='email' AND value <> lower(trim(value)))")" 0
is "map: nothing for the invalid numbers" "$(sql "SELECT count(*) FROM contact_identity WHERE value IN ('12','abc','+999999999999999999')")" 0

# Invalid numbers: dead-lettered before any write, with a precise reason.
for k in bad1 bad2 bad3; do
	d=$(dead $k)
	case $d in
	"invalid_phone|caller.phone: "?*) ok "$k: dead letter invalid_phone ($d)" ;;
	*) not_ok "$k: dead letter invalid_phone with a message"; diag "got: '$d'" ;;
	esac
done
check "bad1 '12': message says too few digits" sh -c "echo '$(dead bad1)' | grep -q 'too few digits'"
check "bad2 'abc': message says letters" sh -c "echo '$(dead bad2)' | grep -qi 'letter'"
check "bad3 '+999999999999999999': message names the problem" sh -c "echo '$(dead bad3)' | grep -qiE 'too many digits|country code|too long'"
is "bad4: unknown explicit contact id -> contact_not_found" "$(dead bad4 | cut -d'|' -f1)" contact_not_found
is "no request to Intercom mentions the invalid numbers" \
    "$(st '[.requests.log[] | tostring | select(test("999999999999999999|\"12\"|abc"))] | length')" 0

# Counts: callsync created exactly one contact (the new caller).
N1=$(st '.contacts | length')
is "callsync created exactly one contact (for the one new caller)" "$((N1 - N0))" 1
is "no two live contacts created by callsync share a phone or email" \
    "$(st --argjson n0 "$N0" '[.contacts[$n0:][] | select(.merged_into == null) | (.phone, (.email // "" | ascii_downcase))] | map(select(. != null and . != "")) | (length - (unique | length))')" 0
is "11 calls done, 4 dead" "$(sql "SELECT group_concat(n, ',') FROM (SELECT state || ':' || count(*) AS n FROM outbox GROUP BY state ORDER BY state)")" "dead:4,done:11"
is "contact creates the simulator saw == created contacts" \
    "$(st '[.requests.log[] | select(.method == "POST" and .path == "/contacts" and .status == 200)] | length')" 1

# --- the operator tool ---------------------------------------------------
cs contacts ls --json >"$T/ls.json" 2>"$T/ls.err"
is "contacts ls --json exit 0" "$?" 0
is "contacts ls --json: one line per identity row" "$(wc -l <"$T/ls.json" | tr -d ' ')" "$(sql "SELECT count(*) FROM contact_identity")"
is "contacts ls --json: +15551230003 -> the user, role, source" \
    "$(jq -r 'select(.kind == "phone" and .value == "+15551230003") | [.workspace, .contact_id, .role, .source, (.merged_into | tostring)] | join(" ")' "$T/ls.json")" \
    "acme $U3 user search null"
cs contacts ls >"$T/ls.txt" 2>&1
check "contacts ls (text) lists P1's phone and id" grep -q "+15551230001 .*$P1" "$T/ls.txt"
cs contacts show "$U3" >"$T/show.txt" 2>&1
is "contacts show ID exit 0" "$?" 0
check "contacts show ID: identity and the duplicates" sh -c "grep -q 'phone +15551230003' '$T/show.txt' && grep -q '$L1 duplicate of $U3' '$T/show.txt' && grep -q '$L2 duplicate of $U3' '$T/show.txt'"
cs contacts show --json "$NEW" >"$T/show.json" 2>&1
is "contacts show --json: the new contact's two identities" "$(jq -r '[.identities[] | .kind + ":" + .value] | sort | join(" ")' "$T/show.json")" "email:new.caller@example.com phone:+15551230007"
cs contacts show 665f0000000000000000beef >/dev/null 2>&1
is "contacts show of an unknown id exits 1" "$?" 1
out=$(cs contacts resolve "+1 (555) 123-0001" 2>&1)
is "contacts resolve '+1 (555) 123-0001' exit 0" "$?" 0
is "contacts resolve '+1 (555) 123-0001' prints P1" "$out" "acme +15551230001 (phone) -> $P1"
out=$(cs contacts resolve BOB@EXAMPLE.COM 2>&1)
is "contacts resolve BOB@EXAMPLE.COM prints P3" "$out" "acme bob@example.com (email) -> $P3"
out=$(cs contacts resolve "+15550000000" 2>&1)
is "contacts resolve of an unknown number exits 1" "$?" 1
out=$(cs contacts resolve "12" 2>&1)
is "contacts resolve of an invalid number exits 1" "$?" 1
check "  ... and says why" sh -c "echo '$out' | grep -q 'too few digits'"

# --- figures -------------------------------------------------------------
created=$((N1 - N0))
avoided=$(sql "SELECT count(*) FROM journal WHERE step = 'contact' AND json_extract(detail, '\$.source') IN ('search', 'map', 'conflict_409', 'merge', 'explicit', 'explicit_merged')")
ndup=$(sql "SELECT count(*) FROM contact_duplicate")
diag "figures 50: contacts created by callsync $created; calls on an existing contact (duplicates avoided) $avoided; known duplicates recorded $ndup; invalid numbers dead-lettered $(sql "SELECT count(*) FROM dead_letter WHERE reason='invalid_phone'")"
echo "50_contacts_resolve: created=$created avoided=$avoided duplicates_recorded=$ndup invalid_phone=$(sql "SELECT count(*) FROM dead_letter WHERE reason='invalid_phone'") conflicts_409=0 merges_followed=0" >>"${TEST_LOGDIR:-/tmp}/figures.txt"
echo "1..$TAPN"
