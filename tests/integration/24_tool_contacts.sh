#!/bin/sh
# 24_tool_contacts: identity map, merges and duplicates made with SQL;
# ls, show, resolve (normalisation, merge following, invalid input),
# merges.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
"$CS" --db "$DB" init >/dev/null
sql <<'S'
INSERT INTO contact_identity (workspace, kind, value, contact_id, role, source)
VALUES ('default', 'phone', '+15551234567', 'old1', 'lead', 'created'),
       ('default', 'email', 'ann@example.com', 'c2', 'user', 'search'),
       ('acme', 'phone', '+442079460958', 'c3', 'user', 'search');
INSERT INTO contact_merge (workspace, from_id, into_id, how) VALUES ('default', 'old1', 'mid1', 'link_410'), ('default', 'mid1', 'c9', 'merged_by_callsync');
INSERT INTO contact_duplicate (workspace, contact_id, winner_id, identity) VALUES ('default', 'dup7', 'c2', 'email:ann@example.com');
S
"$CS" --db "$DB" contacts ls --json >"$T/ls"; rc=$?
is "contacts ls exits 0" "$rc" 0
is "ls lists every identity" "$(wc -l <"$T/ls" | tr -d ' ')" 3
is "ls shows where a merged contact lives on" "$(jq -r 'select(.contact_id == "old1") | .merged_into' "$T/ls")" "c9"
is "ls --workspace" "$("$CS" --db "$DB" contacts ls --workspace acme --json | jq -r .value)" "+442079460958"
"$CS" --db "$DB" contacts ls >/dev/null; is "ls text exits 0" "$?" 0

out=$("$CS" --db "$DB" contacts resolve "(555) 123-4567"); rc=$?
is "resolve national number exits 0" "$rc" 0
is "resolve follows merges" "$out" "default +15551234567 (phone) -> c9 (merged from old1)"
out=$("$CS" --db "$DB" contacts resolve " Ann@Example.COM "); rc=$?
is "resolve email exits 0" "$rc" 0
is "resolve email normalises" "$out" "default ann@example.com (email) -> c2"
out=$("$CS" --db "$DB" contacts resolve "+1 555 000 1111"); rc=$?
is "unknown number exits 1" "$rc" 1
is "unknown number says so" "$out" "default +15550001111 (phone): not in the local map"
"$CS" --db "$DB" contacts resolve "12" >/dev/null 2>"$T/err"; rc=$?
is "invalid phone exits 1" "$rc" 1
check "invalid phone gives the reason" grep -q "callsync: contacts resolve: '12': " "$T/err"
"$CS" --db "$DB" contacts resolve "no-at-sign.example" >/dev/null 2>&1
is "letters in a number exit 1" "$?" 1

"$CS" --db "$DB" contacts show c2 --json >"$T/show"; rc=$?
is "show exits 0" "$rc" 0
is "show identities" "$(jq -r '.identities[0].value' "$T/show")" "ann@example.com"
is "show duplicates" "$(jq -r '.duplicates[0].contact_id' "$T/show")" "dup7"
is "show merges from and into" "$("$CS" --db "$DB" contacts show mid1 --json | jq -c '[.merges[].how]')" '["link_410","merged_by_callsync"]'
"$CS" --db "$DB" contacts show old1 | grep -q "merged into c9"; is "show text names the survivor" "$?" 0
"$CS" --db "$DB" contacts show nobody >/dev/null 2>&1; is "unknown contact exits 1" "$?" 1
is "merges --json" "$("$CS" --db "$DB" contacts merges --json | jq -r .from_id | sort | tr '\n' ' ')" "mid1 old1 "
"$CS" --db "$DB" contacts bogus >/dev/null 2>&1; is "unknown subcommand exits 2" "$?" 2
echo "1..$TAPN"
