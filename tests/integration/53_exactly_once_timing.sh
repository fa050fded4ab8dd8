#!/bin/sh
# Exactly once under real timing (issue 11).  The simulator applies a
# write after the client gave up (late), merges a contact at the moment
# the worker reconciles, answers bigger than 4 MiB; the wall clock is
# stepped with libfaketime (FAKETIME_DONT_FAKE_MONOTONIC: an NTP step
# moves the wall clock only).  Every case counts what landed in the
# simulator once all late writes were applied.
#
# Worker: request_timeout 1, settle_margin 3, search_lag 2; simulator:
# writes applied 2.5 s late, search lag 1 s.  A write in doubt may land
# until 1 + 3 = 4 s after it was sent, so the worker must not conclude
# "not there" (and send again) before then, plus search_lag for searches;
# it may look earlier, and a look that finds the write settles it.
. "$(dirname "$0")/lib.sh"
t_setup
FT_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
# Under ASan its runtime must come first in LD_PRELOAD.
FT_PRELOAD=$FT_LIB
case "$BIN" in *asan*) FT_PRELOAD="$(cc -print-file-name=libasan.so) $FT_LIB" ;; esac
ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer
check "libfaketime is installed (Debian package faketime)" test -f "$FT_LIB"
LONG=$(awk 'BEGIN { for (i = 0; i < 60; i++) printf "line %d of the transcript goes on. ", i }')

# setup NAME [worker conf lines]: fresh simulator, database and config.
setup() {
	name=$1; shift
	[ -n "${SIM_PID:-}" ] && sim_stop
	DB=$T/$name.db
	sim_start --seed 7 --search-lag 1 --late-ms 2500 --attributes "$ATTRS" || exit 1
	write_conf "max_body = 1024
search_lag = 2
max_attempts = 50
$*"
	sed -i 's/^request_timeout = 5$/request_timeout = 1/; s/^settle_margin = 1$/settle_margin = 3/; s/^retry_base_ms = 500$/retry_base_ms = 200/; s/^retry_max = 5s$/retry_max = 1s/' "$T/callsync.conf"
	"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
}
ctl() { curl -sf -X POST -H 'Content-Type: application/json' -d "$2" "$SIM_CTL$1"; }
late_pending() { sim_state | jq -e ".faults.late_pending == $1" >/dev/null; }
late_applied() { sim_state | jq -e ".faults.late >= $1 and .faults.late_pending == 0" >/dev/null; }
# call KEY PHONE [extra JSON members]: one call record, enqueued.
call() {
	printf '{"type":"call","call_id":"%s","caller":{"phone":"%s"},"summary":"Call %s","transcript":"%s","outcome":"done"%s}\n' \
	    "$1" "$2" "$1" "$LONG" "${3:-}" >"$T/one.jsonl"
	enqueue_sql "$T/one.jsonl"
}
marker() { sql "SELECT marker FROM outbox WHERE record_key = '$1'"; }
nconv() { st --arg m "$1" '[.conversations[] | select(.body | contains($m))] | length'; }
nparts() { st --arg m "$1" '[.conversations[].parts[] | select((.body // "") | contains($m))] | length'; }
record_state() { sql "SELECT state FROM outbox WHERE record_key = '$1'"; }
is_done() { [ "$(record_state "$1")" = done ]; }
worker_bg() {	# worker_bg [env...]: the daemon in the background
	env "$@" "$BIN/callsyncd" --config "$T/callsync.conf" 2>>"$T/worker.log" &
	WPID=$!
	PIDS="$PIDS $WPID"
}
worker_stop() { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; }

# --- 1. a note applied after the client gave up -------------------------
setup late_note
ctl /_sim/control '{"late_next":1,"late_paths":"/reply"}' >/dev/null
call k1 +15550001001
drain_until_done 20 60
check "late note: drained" [ $? -eq 0 ]
wait_for "the late note to be applied" 20 late_applied 1
snap
m=$(marker k1)
is "late note: the transcript's second note exists once" "$(nparts "${m}n2")" 1
is "late note: one conversation" "$(nconv "$m")" 1
is "late note: its journal row says reconciled" \
    "$(sql "SELECT count(*) FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = 'k1' AND j.step = 'note:2' AND j.detail LIKE '%reconciled%'")" 1
is "late note: the reconciled write is in the audit log" \
    "$(sql "SELECT count(*) FROM audit WHERE record_key = 'k1' AND step = 'note:2'")" 1

# --- 1b. the same, the worker killed while the note is on its way ---------
setup late_note_kill
ctl /_sim/control '{"late_next":1,"late_paths":"/reply"}' >/dev/null
call k1b +15550001002
worker_bg
wait_for "the note to reach the simulator" 20 late_pending 1
kill -9 "$WPID"; wait "$WPID" 2>/dev/null
drain_until_done 20 60
check "late note, worker killed: drained" [ $? -eq 0 ]
wait_for "the late note to be applied" 20 late_applied 1
snap
is "late note, worker killed: the second note exists once" "$(nparts "$(marker k1b)n2")" 1

# --- 2. a merge while the conversation is in doubt ------------------------
# The late conversation lands, then a teammate merges the lead into a
# user before the worker reconciles: the conversation is the user's now.
setup merge_in_doubt
lead=$(ctl /_sim/contacts '{"role":"lead","phone":"+15550002001"}' | jq -r .id)
user=$(ctl /_sim/contacts '{"role":"user","email":"owner@example.com"}' | jq -r .id)
ctl /_sim/control '{"late_next":1,"late_paths":"/conversations"}' >/dev/null
call k2 +15550002001
worker_bg
wait_for "the late conversation to be applied" 20 late_applied 1
ctl /_sim/merge "{\"from\":\"$lead\",\"into\":\"$user\"}" >/dev/null
wait_for "k2 delivered" 40 is_done k2
check "merge in doubt: delivered" is_done k2
worker_stop
snap
m=$(marker k2)
is "merge in doubt: the lead was merged" "$(st --arg l "$lead" '[.contacts[] | select(.id == $l and .merged_into != null)] | length')" 1
is "merge in doubt: one conversation" "$(nconv "$m")" 1
is "merge in doubt: it belongs to the user now" "$(conv_contact k2)" "$user"

# --- 3. search lag counted from the last moment the write could land ------
setup search_lag
ctl /_sim/control '{"late_next":1,"late_paths":"/conversations"}' >/dev/null
call k3 +15550003001
drain_until_done 20 60
check "search lag: drained" [ $? -eq 0 ]
wait_for "the late conversation to be applied" 20 late_applied 1
snap
is "search lag: one conversation" "$(nconv "$(marker k3)")" 1
is "search lag: reconciled, not created twice (one audit row)" \
    "$(sql "SELECT count(*) FROM audit WHERE record_key = 'k3' AND step = 'conversation'")" 1

# --- 4a. the clock stepped back two hours across a crash ------------------
setup clock_back
ctl /_sim/control '{"late_next":1,"late_paths":"/conversations"}' >/dev/null
call k4 +15550004001
worker_bg
wait_for "the conversation to reach the simulator" 20 late_pending 1
kill -9 "$WPID"; wait "$WPID" 2>/dev/null
worker_bg LD_PRELOAD="$FT_PRELOAD" FAKETIME="-2h" FAKETIME_DONT_FAKE_MONOTONIC=1
wait_for "k4 delivered by the worker two hours behind" 40 is_done k4
check "clock back: delivered" is_done k4
worker_stop
wait_for "the late conversation to be applied" 20 late_applied 1
snap
is "clock back: one conversation" "$(nconv "$(marker k4)")" 1

# --- 4b. the clock stepped forward an hour during the search wait ---------
setup clock_forward
ctl /_sim/control '{"late_next":1,"late_paths":"/conversations"}' >/dev/null
echo "+0" >"$T/faketime"
call k5 +15550005001
worker_bg LD_PRELOAD="$FT_PRELOAD" FAKETIME_TIMESTAMP_FILE="$T/faketime" \
    FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1
wait_for "the conversation to reach the simulator" 20 late_pending 1
# The answer times out after 1 s; step the clock while the worker waits.
wait_for "the timeout to be recorded" 20 sh -c "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM attempt_log\") -ge 1 ]"
echo "+3600" >"$T/faketime"
wait_for "k5 delivered" 40 is_done k5
check "clock forward: delivered" is_done k5
worker_stop
wait_for "the late conversation to be applied" 20 late_applied 1
snap
is "clock forward: one conversation" "$(nconv "$(marker k5)")" 1

# --- 4c. the clock stepped past the lease while a note is in flight ------
setup clock_lease
sed -i 's/^request_timeout = 1$/request_timeout = 4/; s/^lease = 30$/lease = 5/' "$T/callsync.conf"
ctl /_sim/control '{"late_next":1,"late_paths":"/reply"}' >/dev/null
echo "+0" >"$T/faketime"
call k6 +15550006001
worker_bg LD_PRELOAD="$FT_PRELOAD" FAKETIME_TIMESTAMP_FILE="$T/faketime" \
    FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1
wait_for "the note to reach the simulator" 20 late_pending 1
echo "+3600" >"$T/faketime"
wait_for "k6 delivered" 40 is_done k6
check "clock past the lease: delivered" is_done k6
worker_stop
wait_for "the late note to be applied" 20 late_applied 1
snap
is "clock past the lease: the second note exists once" "$(nparts "$(marker k6)n2")" 1
is "clock past the lease: the record was claimed once" "$(sql "SELECT attempts FROM outbox WHERE record_key = 'k6'")" 1

# --- 5a. replaying an older call after a newer one was delivered ---------
setup replay_order
printf '%s\n' \
    '{"type":"call","call_id":"old","caller":{"phone":"12"},"started_at":"2026-11-01T10:00:00Z","summary":"older call","outcome":"old-outcome"}' \
    >"$T/old.jsonl"
enqueue_sql "$T/old.jsonl"
drain_until_done 5 30 >/dev/null
is "replay: the older call is dead-lettered (invalid phone)" "$(record_state old)" dead
printf '%s\n' '{"type":"call","call_id":"new","caller":{"phone":"+15550007001"},"started_at":"2026-11-02T10:00:00Z","summary":"newer call","outcome":"new-outcome"}' >"$T/new.jsonl"
enqueue_sql "$T/new.jsonl"
drain_until_done 5 30
printf '%s\n' '{"type":"call","call_id":"old","caller":{"phone":"+15550007001"},"started_at":"2026-11-01T10:00:00Z","summary":"older call","outcome":"old-outcome"}' >"$T/fixed.json"
cs dlq edit --payload "$T/fixed.json" old >/dev/null 2>&1
cs dlq replay --key old >/dev/null 2>&1
drain_until_done 5 30
check "replay: both delivered" sh -c "[ \"\$(sqlite3 '$DB' \"SELECT count(*) FROM outbox WHERE state='done'\")\" = 2 ]"
snap
is "replay: last_call_outcome is still the newer call's" \
    "$(st -r '[.contacts[] | select(.phone == "+15550007001")][0].custom_attributes.last_call_outcome')" new-outcome
is "replay: last_call_at is still the newer call's" \
    "$(st -r '[.contacts[] | select(.phone == "+15550007001")][0].custom_attributes.last_call_at')" 1793613600

# --- 5b. a refused write leaves no intent behind ------------------------
setup refused
# The teams cannot be listed (a token without the scope: 403), so the
# unknown team is not caught before the writes; Intercom refuses the
# assignment (400 team_not_found) and the routing decides instead.
ctl /_sim/control '{"forbidden_paths":"/teams"}' >/dev/null
call k7 +15550008001 ',"assign":{"team_id":"9999"}'
drain_until_done 5 30 >/dev/null
is "refused: the record is delivered without its assignment" "$(record_state k7)" done
snap
is "refused: Intercom refused one assignment" "$(st '[.requests.log[] | select(.status == 400 and (.path|test("/parts$")))] | length')" 1
is "refused: no intent left for the refused assignment" \
    "$(sql "SELECT count(*) FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = 'k7' AND j.step = 'intent:assign'")" 0

# --- 6. a merge whose answer was lost is audited and mapped --------------
setup lost_merge "merge_duplicates = true"
user=$(ctl /_sim/contacts '{"role":"user","phone":"+15550009001","email":"u9@example.com"}' | jq -r .id)
lead=$(ctl /_sim/contacts '{"role":"lead","phone":"+15550009001"}' | jq -r .id)
ctl /_sim/control '{"p_late_lost":1,"late_paths":"/contacts/merge"}' >/dev/null
call k8 +15550009001
drain_until_done 20 60
check "lost merge: drained" [ $? -eq 0 ]
snap
is "lost merge: the simulator merged the lead once" "$(st --arg l "$lead" '[.contacts[] | select(.id == $l and .merged_into != null)] | length')" 1
is "lost merge: one audit row for it" "$(sql "SELECT count(*) FROM audit WHERE step = 'merge:$lead'")" 1
is "lost merge: the merge mapping is kept" "$(sql "SELECT into_id FROM contact_merge WHERE from_id = '$lead'")" "$user"

# --- 7. reconciling needs an answer over 4 MiB ---------------------------
setup big_answer
ctl /_sim/control '{"late_next":1,"late_paths":"/reply"}' >/dev/null
call k9 +15550010001
worker_bg
wait_for "the note to reach the simulator" 20 late_pending 1
cv=$(sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = 'k9' AND j.step = 'conversation'")
ctl /_sim/pad_conversation "{\"id\":\"$cv\",\"bytes\":6000000}" >/dev/null
wait_for "k9 delivered" 40 is_done k9
check "big answer: delivered" is_done k9
worker_stop
wait_for "the late note to be applied" 20 late_applied 1
snap
is "big answer: the second note exists once" "$(nparts "$(marker k9)n2")" 1

echo "1..$TAPN"
