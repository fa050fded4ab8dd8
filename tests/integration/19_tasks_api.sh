#!/bin/sh
# 19_tasks_api: the task API on [worker] listen and `callsync tasks`
# (docs/contract.md section 6).
#   a. POST /v1/tasks/claim {lease_s}: 204 with nothing due; 200 with the
#      task, leased, highest priority first; {workspace} filters;
#   b. done {outcome}: 200, then 409; a done task is never handed out
#      again (claims until 204 never return it);
#   c. release: 200, due again, claimed again;
#   d. a leased task whose agent dies comes back after its lease;
#   e. unknown ids 404; a bad body 400;
#   f. callsync tasks ls [--json] [--state S], show ID, cancel ID (a
#      cancelled task is never claimed; cancelling a done one: exit 1);
#   g. /healthz fails naming task_age past task_max_age, 200 again when
#      nothing is due.
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --seed 19 || exit 1
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
write_conf
sed -i "s/^\[worker\]\$/[worker]\ntask_max_age = 3s/" "$T/callsync.conf"
listen_start "$T/callsync.conf" "$T/w.log" -v || { not_ok "worker starts"; exit 1; }

addtask() { # DEDUPE PRIORITY PHONE
	sqlw "INSERT INTO tasks (workspace, dedupe, rule, contact_id, phone, reason, conversation_id, priority, due_at) VALUES ('acme', '$1', 'tag', 'c-$1', '$3', 'conversation tagged callback', 'conv-$1', $2, unixepoch() - 5)"
}
# api METHOD PATH [BODY]: the status; the body in $T/ans
api() {
	curl -s -m 10 -o "$T/ans" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
	    ${3:+--data-binary} ${3:+"$3"} "$H$2"
}
claim() { api POST /v1/tasks/claim "{\"lease_s\": ${1:-30}}"; }

# ---------------------------------------------------------------- (a)
is "claim with nothing due: 204" "$(claim)" 204
is "/healthz with no task: 200" "$(api GET /healthz)" 200
addtask a 0 +15550100001
addtask b 5 +15550100002
addtask c 0 +15550100003
TA=$(sql "SELECT id FROM tasks WHERE dedupe = 'a'")
TB=$(sql "SELECT id FROM tasks WHERE dedupe = 'b'")
TC=$(sql "SELECT id FROM tasks WHERE dedupe = 'c'")
sqlw "UPDATE tasks SET due_at = unixepoch() - 60"
is "/healthz with a task due 60 s (task_max_age 3s): 503" "$(api GET /healthz)" 503
check "...naming task_age for acme" sh -c "jq -e '.problems[] | select(.problem == \"task_age\" and .workspace == \"acme\")' '$T/ans' >/dev/null"
is "claim {workspace: other}: 204" "$(api POST /v1/tasks/claim '{"lease_s": 30, "workspace": "other"}')" 204
is "claim: 200" "$(claim)" 200
is "the highest priority first, leased, with the contract's fields" \
    "$(jq -r '[.task_id, .state, .phone, .conversation_id, .contact_id, .workspace, (.lease_until > .due_at), has("email"), has("name"), has("reason")] | map(tostring) | join(",")' "$T/ans")" \
    "$TB,leased,+15550100002,conv-b,c-b,acme,true,true,true,true"
is "ids are strings" "$(jq -r '.task_id | type' "$T/ans")" string
is "the database says leased" "$(sql "SELECT state FROM tasks WHERE id = $TB")" leased
is "callsync tasks ls --state leased" "$(cs tasks ls --json --state leased | jq -r '.[].task_id' | tr '\n' ' ')" "$TB "

# ---------------------------------------------------------------- (b)
is "done: 200" "$(api POST /v1/tasks/$TB/done '{"outcome": "called, booked a demo"}')" 200
is "...answers the task, done" "$(jq -r '.state + "|" + .outcome' "$T/ans")" "done|called, booked a demo"
is "done again: 409" "$(api POST /v1/tasks/$TB/done '{"outcome": "again"}')" 409
is "release of a done task: 409" "$(api POST /v1/tasks/$TB/release)" 409
is "the outcome is kept" "$(sql "SELECT outcome FROM tasks WHERE id = $TB")" "called, booked a demo"

# ---------------------------------------------------------------- (c)
is "claim: 200" "$(claim)" 200
got=$(jq -r .task_id "$T/ans")
check "the next is a (same priority, older id)" [ "$got" = "$TA" ]
is "release: 200" "$(api POST /v1/tasks/$TA/release)" 200
is "...due again" "$(jq -r .state "$T/ans")" due
is "claim: the released one again" "$(claim; printf ' '; jq -r .task_id "$T/ans")" "200 $TA"

# ---------------------------------------------------------------- (d)
# 3 s: leases end on whole seconds, so a 1-s lease taken late in a
# second could end before the next claim (seen once under load).
is "claim c with a 3 s lease (the agent then dies)" "$(claim 3; printf ' '; jq -r .task_id "$T/ans")" "200 $TC"
is "...not handed out while leased" "$(claim)" 204
back() { [ "$(claim 30)" = 200 ] && [ "$(jq -r .task_id "$T/ans")" = "$TC" ]; }
wait_for "the task after its lease" 10 back
is "after the lease it comes back (claimed again within 10 s)" "$?" 0

# ---------------------------------------------------------------- (e)
is "done of an unknown id: 404" "$(api POST /v1/tasks/999999/done '{"outcome": "x"}')" 404
is "release of an unknown id: 404" "$(api POST /v1/tasks/999999/release)" 404
is "GET an unknown id: 404" "$(api GET /v1/tasks/999999)" 404
is "GET a task: 200" "$(api GET /v1/tasks/$TB; printf ' '; jq -r .state "$T/ans")" "200 done"
is "claim without lease_s: 400" "$(api POST /v1/tasks/claim '{}')" 400
is "claim with a non-JSON body: 400" "$(api POST /v1/tasks/claim 'nope')" 400
is "GET /v1/tasks/claim: 405" "$(api GET /v1/tasks/claim)" 405

# ---------------------------------------------------------------- (f)
addtask d 9 +15550100004
TD=$(sql "SELECT id FROM tasks WHERE dedupe = 'd'")
cs tasks cancel "$TD" >"$T/cancel.out" 2>&1
is "tasks cancel: exit 0" "$?" 0
is "...cancelled" "$(sql "SELECT state FROM tasks WHERE id = $TD")" cancelled
check "...with an operator audit row" [ "$(sql "SELECT count(*) FROM audit WHERE kind = 'operator' AND detail LIKE '%task_cancel%'")" -ge 1 ]
cs tasks cancel "$TB" >/dev/null 2>"$T/cancel2.err"
is "tasks cancel of a done task: exit 1" "$?" 1
is "a cancelled task is never claimed (all leased: 204)" "$(claim)" 204
is "/healthz with every task leased or final: 200" "$(api GET /healthz)" 200
is "tasks show --json" "$(cs tasks show --json "$TB" | jq -r '.task_id + "|" + .state')" "$TB|done"
cs tasks show "$TB" >"$T/show.out"
check "tasks show: one field a line" grep -q "^phone *+15550100002" "$T/show.out"
is "tasks ls --json: every task" "$(cs tasks ls --json | jq length)" 4
is "tasks ls --state done" "$(cs tasks ls --json --state done | jq -r '.[].task_id')" "$TB"
check "tasks ls: a header and 4 lines" [ "$(cs tasks ls | wc -l)" -eq 5 ]
cs tasks ls --state bogus >/dev/null 2>&1
is "tasks ls --state bogus: exit 2" "$?" 2
cs tasks show 424242 >/dev/null 2>&1
is "tasks show of an unknown id: exit 1" "$?" 1

# ---------------------------------------------------------------- (h)
# done with the call the agent made: {"outcome", "record"} enqueues the
# call record in the same transaction as the task's done, linked to the
# task (tasks.record_key), onto the task's conversation and contact when
# the record names none; an invalid record is 400 and changes nothing;
# a retried done is 409 and enqueues nothing more.
CU=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"role":"user","phone":"+15550100009","name":"Cara Back"}' "$SIM_CTL/_sim/contacts" | jq -r .id)
CV=$(curl -sf -X POST -H 'Content-Type: application/json' -d "{\"contact_ids\":[\"$CU\"],\"body\":\"can we talk?\"}" "$SIM_CTL/_sim/conversations" | jq -r .id)
check "a contact and a conversation in the simulator ($CU, $CV)" [ -n "$CU" ] && [ -n "$CV" ]
sqlw "INSERT INTO tasks (workspace, dedupe, rule, contact_id, phone, reason, conversation_id, priority, due_at) VALUES ('acme', 'h', 'tag', '$CU', '+15550100009', 'conversation tagged callback', '$CV', 99, unixepoch() - 5)"
TH=$(sql "SELECT id FROM tasks WHERE dedupe = 'h'")
is "claim the follow-up task" "$(claim; printf ' '; jq -r .task_id "$T/ans")" "200 $TH"
is "done with an invalid record: 400" "$(api POST /v1/tasks/$TH/done '{"outcome": "called", "record": {"type": "call", "call_id": "fu-1", "summary": 7}}')" 400
check "...saying what is wrong" grep -q 'summary' "$T/ans"
is "...the task is still leased" "$(sql "SELECT state FROM tasks WHERE id = $TH")" leased
is "...nothing enqueued" "$(sql "SELECT count(*) FROM outbox WHERE record_key = 'fu-1'")" 0
is "done with a record that is not an object: 400" "$(api POST /v1/tasks/$TH/done '{"outcome": "called", "record": "fu-1"}')" 400
is "done with the call record: 200" "$(api POST /v1/tasks/$TH/done '{"outcome": "called back, resolved", "record": {"type": "call", "call_id": "fu-1", "summary": "called back about the invoice", "outcome": "resolved", "duration_s": 95}}')" 200
is "...answers the task done, linked to its record" "$(jq -r '.state + "|" + .record_key' "$T/ans")" "done|fu-1"
is "...one outbox row, in the task's workspace" "$(sql "SELECT count(*) || '|' || workspace FROM outbox WHERE record_key = 'fu-1'")" "1|acme"
is "...the record is on the task's conversation" "$(sql "SELECT json_extract(payload, '\$.conversation_id') FROM outbox WHERE record_key = 'fu-1'")" "$CV"
is "...and the task's contact" "$(sql "SELECT json_extract(payload, '\$.caller.contact_id') FROM outbox WHERE record_key = 'fu-1'")" "$CU"
is "done again with the record: 409" "$(api POST /v1/tasks/$TH/done '{"outcome": "again", "record": {"type": "call", "call_id": "fu-2", "summary": "again"}}')" 409
is "...nothing more enqueued" "$(sql "SELECT count(*) FROM outbox WHERE record_key IN ('fu-1', 'fu-2')")" 1
fu_done() { [ "$(sql "SELECT state FROM outbox WHERE record_key = 'fu-1'")" = done ]; }
wait_for "the follow-up call delivered" 30 fu_done
check "the follow-up call is delivered" [ $? -eq 0 ]
FM=$(sql "SELECT marker FROM outbox WHERE record_key = 'fu-1'")
is "...as a note on the task's conversation, and no new conversation" \
    "$(sim_state | jq -r --arg c "$CV" --arg m "$FM" '[(.conversations | length), ([.conversations[] | select(.id == $c) | .parts[] | select(.part_type == "note") | select(.body | contains($m))] | length)] | map(tostring) | join(" ")')" "1 1"
