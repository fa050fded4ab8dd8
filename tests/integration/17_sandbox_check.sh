#!/bin/sh
# callsync sandbox-check (CONTRACT.md 7) against the simulator: it makes a
# lead, a conversation, a note, a tag, a title and attributes, reads each
# back, measures contact and conversation search lag, reads the
# rate-limit headers and the clock offset, removes what it made, audits
# its writes, and refuses a workspace that looks like production.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --search-lag 1 --conv-search-lag 2 --attributes last_call_outcome || exit 1
write_conf
cs init >/dev/null 2>&1

cs sandbox-check --json >"$T/sb.json" 2>"$T/sb.err"
is "exit 0" "$?" 0
is "ok, no failures" "$(jq -c '[.ok, .failures]' "$T/sb.json")" "[true,0]"
is "every check ran" "$(jq -r '[.checks[].check] | unique | join(" ")' "$T/sb.json")" \
    "cleanup clock contact contact_attribute contact_search_lag conversation_attributes conversation_body conversation_search_lag formatted_phone_search note phone_search tag token workspace"
lag() { jq -r --arg c "$1" '.checks[] | select(.check == $c) | .detail.seconds | floor' "$T/sb.json"; }
is "contact search lag measured (1 s in the simulator)" "$(lag contact_search_lag)" 1
is "conversation search lag measured apart (2 s)" "$(lag conversation_search_lag)" 2
is "body as sent and as stored" "$(jq -r '.checks[] | select(.check == "conversation_body") | (.detail.sent | test("<b>tag</b>")), (.detail.stored | test("&lt;b&gt;tag&lt;/b&gt;"))' "$T/sb.json" | tr '\n' ' ')" "true true "
is "the clock offset from Date" "$(jq -r '.checks[] | select(.check == "clock") | .detail.offset_s | fabs <= 1' "$T/sb.json")" true
is "rate-limit headers reported" "$(jq -r '.rate_limit.limit > 0 and .rate_limit.remaining >= 0 and .rate_limit.reset > 0' "$T/sb.json")" true
is "formatted_phone finds the lead stored formatted" "$(jq -r '.checks[] | select(.check == "formatted_phone_search") | .detail.found' "$T/sb.json")" true
snap
is "everything it made is removed" "$(st -c '[(.contacts | length), (.conversations | length), (.tags | length)]')" "[0,0,0]"
is "its writes are audited" "$(sql "SELECT count(*) > 5 FROM audit WHERE step = 'sandbox_check'")" 1
cs audit verify >/dev/null 2>&1
is "audit chain verifies" "$?" 0
check "no token in the report" sh -c "! grep -q '$SIM_TOKEN' '$T/sb.json' '$T/sb.err'"

# What the simulator marks unverified shows in the report: with part
# bodies re-serialised (invented), the note is "stored differently".
sim_ctl '{"behaviours":{"part_body_normalise":true,"formatted_phone":false}}'
cs sandbox-check >"$T/sb.txt" 2>&1
is "text: exit 0 with warnings" "$?" 0
check "text: the note stored differently" grep -q "^WARN note: stored differently" "$T/sb.txt"
check "text: formatted_phone does not find it" grep -q "^WARN formatted_phone_search:" "$T/sb.txt"
check "text: rate limit line" grep -q "^ok   rate_limit: X-RateLimit-Limit" "$T/sb.txt"
check "text: summary line" grep -q "^passed: 0 failed, 2 warnings" "$T/sb.txt"

# Production guard: 100 contacts and no dev/test hint in the app name.
i=0; while [ $i -lt 100 ]; do sim_contact "{\"role\":\"lead\",\"email\":\"p$i@example.com\"}" >/dev/null; i=$((i + 1)); done
snap; before=$(st '[.requests.log[] | select(.method != "GET" and (.path | test("search") | not))] | length')
cs sandbox-check >"$T/prod.txt" 2>&1
is "production-looking workspace: exit 1" "$?" 1
check "says why and how to force" grep -q "looks like production; nothing written (--force" "$T/prod.txt"
snap
is "nothing written to it" "$(st '[.requests.log[] | select(.method != "GET" and (.path | test("search") | not))] | length')" "$before"
cs sandbox-check --force --json >"$T/force.json" 2>&1
is "--force: runs, exit 0" "$?" 0
is "--force recorded" "$(jq -r '.checks[] | select(.check == "workspace") | .detail.forced' "$T/force.json")" true
is "--force: cleaned up (100 contacts left)" "$(snap; st '.contacts | length')" 100
cs sandbox-check --workspace nope >/dev/null 2>&1
is "unknown workspace: usage error" "$?" 2
echo "1..$TAPN"
