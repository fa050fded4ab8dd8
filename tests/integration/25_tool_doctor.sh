#!/bin/sh
# 25_tool_doctor: doctor against bin/intercom-sim: token ok, wrong token,
# token file readable by others, missing attributes fixed (and audited),
# then a clean second run.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
sim_start --attributes plan_interest,callback_requested:boolean,last_call_outcome || { not_ok "simulator started"; exit 1; }
write_conf
"$CS" --config "$T/callsync.conf" init >/dev/null

"$CS" --config "$T/callsync.conf" doctor >"$T/out" 2>&1; rc=$?
is "missing attributes: doctor exits 1" "$rc" 1
check "token valid line" grep -q "^ok   acme: token valid (admin 1001 Voice AI)" "$T/out"
check "admin checked" grep -q "^ok   acme: admin_id 1001 exists" "$T/out"
check "missing attribute reported" grep -q "^FAIL acme: custom attribute last_call_at (date) is missing" "$T/out"
check "present attribute ok" grep -q "^ok   acme: custom attribute last_call_outcome" "$T/out"
check "allowed attribute ok" grep -q "^ok   acme: allowed attribute plan_interest exists" "$T/out"
check "database checked" grep -q "^ok   database: integrity_check ok" "$T/out"
check "token never printed" sh -c "! grep -q '$SIM_TOKEN' '$T/out'"

"$CS" --config "$T/callsync.conf" doctor --fix >"$T/out" 2>&1; rc=$?
is "doctor --fix exits 0" "$rc" 0
check "fix created last_call_at" grep -q "^ok   acme: created custom attribute last_call_at (date)" "$T/out"
is "three attributes created in the simulator" \
    "$(sim_state | jq -r '[.. | objects | select(.name? == "last_call_at" or .name? == "last_call_escalated" or .name? == "last_call_nps")] | length')" 3
is "one audit row per write" "$(sql "SELECT count(*) FROM audit WHERE step = 'doctor_fix' AND method = 'POST' AND path = '/data_attributes' AND admin_id = '1001' AND object_id IS NOT NULL")" 3
"$CS" --config "$T/callsync.conf" audit verify >/dev/null; is "audit verifies" "$?" 0

"$CS" --config "$T/callsync.conf" doctor >"$T/out" 2>&1; rc=$?
is "second doctor passes" "$rc" 0
check "no FAIL lines" sh -c "! grep -q '^FAIL' '$T/out'"

chmod 644 "$T/acme.token"
"$CS" --config "$T/callsync.conf" doctor >"$T/out" 2>&1; rc=$?
is "token file 0644: exit 1" "$rc" 1
check "names the file, mode and fix" grep -q "FAIL acme: $T/acme.token is mode 0644, readable by group or other: chmod 600 $T/acme.token" "$T/out"
chmod 600 "$T/acme.token"

chmod 640 "$T/callsync.conf"
"$CS" --config "$T/callsync.conf" doctor >"$T/out" 2>&1; rc=$?
is "config file 0640: exit 1" "$rc" 1
check "config mode named" grep -q "FAIL config: $T/callsync.conf is mode 0640" "$T/out"
chmod 600 "$T/callsync.conf"

printf 'wrong-token-000\n' >"$T/acme.token"
"$CS" --config "$T/callsync.conf" doctor >"$T/out" 2>&1; rc=$?
is "wrong token: exit 1" "$rc" 1
check "token rejected" grep -q "^FAIL acme: token rejected" "$T/out"
check "wrong token not printed" sh -c "! grep -q wrong-token-000 '$T/out'"
"$CS" --db "$DB" doctor >/dev/null 2>&1; is "doctor without --config exits 2" "$?" 2
echo "1..$TAPN"
