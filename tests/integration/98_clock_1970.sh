#!/bin/sh
# A box that boots in 1970 (issue 20, item 4).  Without an RTC the clock
# reads 1970 until NTP answers; calls enqueued meanwhile carry a 1970
# enqueued_at (SQLite's unixepoch() default) and perhaps a 1970
# started_at.  Times before the build date are unknown, not old: such a
# record is delivered, not dead-lettered max_age at first sight; its age
# counts from when the worker first saw it (outbox.first_seen_at); the
# conversation is dated at delivery; a journal row (clock_check) says
# why; and a max_age dead letter never points at attempts that were not
# made.
#
# a. producers' inserts under libfaketime at 1970, a worker with a sane
#    clock: delivered, dated at delivery (or when the call happened, when
#    started_at is known), journal note, first_seen_at set.
# b. a record truly older than max_age: its dead letter says no attempt
#    failed, or quotes the last error, never "see attempts".
# c. the worker itself at 1970 (libfaketime): a record enqueued with a
#    sane clock is delivered and dated when it was enqueued, not 1970;
#    no 1970 first_seen_at is stored.
. "$(dirname "$0")/lib.sh"
t_setup
FT_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
FT_PRELOAD=$FT_LIB
case "$BIN" in *asan*) FT_PRELOAD="$(cc -print-file-name=libasan.so) $FT_LIB" ;; esac
check "libfaketime is installed (Debian package faketime)" test -f "$FT_LIB"
ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer

setup() {
	[ -n "${SIM_PID:-}" ] && sim_stop
	DB=$T/$1.db
	LOG=$T/$1.log
	sim_start --attributes "$ATTRS" || exit 1
	write_conf "$2"
	cs init >/dev/null 2>&1
}
# call KEY PHONE [STARTED_AT]: one call record (JSON Lines) on stdout.
call() {
	printf '{"type":"call","call_id":"%s","caller":{"phone":"%s"},"summary":"Call %s","outcome":"done"%s}\n' \
	    "$1" "$2" "$1" "${3:+,\"started_at\":\"$3\"}"
}
# enqueue_1970 FILE: the producer SQL run with the clock at 1970-01-01
# 00:10 (SQLite's unixepoch() default gives enqueued_at 600).
enqueue_1970() {
	jq -rc '"INSERT INTO outbox (workspace, record_key, payload) VALUES (\u0027acme\u0027, \u0027\(.call_id)\u0027, \u0027\(tojson)\u0027) ON CONFLICT (workspace, record_key) DO NOTHING;"' "$1" |
	    env LD_PRELOAD="$FT_LIB" FAKETIME="@1970-01-01 00:10:00" \
	    sqlite3 -batch "$DB"
}
worker_bg() {	# worker_bg [env...]: the daemon in the background
	env "$@" "$BIN/callsyncd" --config "$T/callsync.conf" -d 2>>"$LOG" &
	WPID=$!
	PIDS="$PIDS $WPID"
}
worker_stop() { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; }
settled() { [ "$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending','inflight')")" -eq 0 ]; }
state_of() { sql "SELECT state FROM outbox WHERE record_key = '$1'"; }
conv_at() {	# conv_at KEY: created_at of the record's conversation
	cv=$(sql "SELECT intercom_id FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = '$1' AND j.step = 'conversation'")
	st -r --arg id "$cv" '.conversations[] | select(.id == $id) | .created_at'
}
note_of() {	# note_of KEY: the clock_check journal row's detail
	sql "SELECT detail FROM journal j JOIN outbox o ON o.id = j.outbox_id WHERE o.record_key = '$1' AND j.step = 'clock_check'"
}
hour_ago=$(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%SZ)
hour_ago_s=$(date -d "$hour_ago" +%s)

# --- a. enqueued at 1970, delivered by a sane worker --------------------
setup boot
{
	call k70a +15550980001 1970-01-01T00:05:00Z	# both times 1970
	call k70b +15550980002 "$hour_ago"		# the call's own time known
} >"$T/boot1970.jsonl"
enqueue_1970 "$T/boot1970.jsonl"
{
	call k70c +15550980003 1970-01-01T00:05:00Z	# enqueued later, sanely
	call ok1 +15550980004 "$hour_ago"		# nothing unknown
} >"$T/boot.jsonl"
enqueue_sql "$T/boot.jsonl"
is "a: the 1970 inserts carry enqueued_at 600" \
    "$(sql "SELECT group_concat(enqueued_at) FROM outbox WHERE record_key IN ('k70a','k70b') ORDER BY id")" "600,600"
age=$(cs status --json | jq -r 'select(.workspace == "acme") | .oldest_pending_age_s')
check "a: status does not call the 1970 records 56 years old (oldest pending $age s)" \
    [ "${age:-99999999}" -lt 3600 ]
t0=$(date +%s)
worker_bg
wait_for "every record settled" 40 settled
worker_stop
snap
for k in k70a k70b k70c ok1; do
	is "a: $k delivered, not dead-lettered" "$(state_of $k)" done
done
is "a: no dead letter" "$(sql "SELECT count(*) FROM dead_letter")" 0
sql "SELECT o.record_key, d.reason, d.message FROM dead_letter d JOIN outbox o ON o.id = d.outbox_id" | sed 's/^/# dead: /'
ca=$(conv_at k70a); cb=$(conv_at k70b); cc=$(conv_at k70c)
diag "conversations' created_at: k70a $ca, k70b $cb, k70c $cc (delivery from $t0)"
check "a: k70a's conversation is dated at delivery, not 1970 ($ca)" \
    [ "${ca:-0}" -ge $((t0 - 5)) ]
is "a: k70b's conversation is dated when the call happened" "$cb" "$hour_ago_s"
check "a: k70c's conversation (started_at 1970) is dated at delivery ($cc)" \
    [ "${cc:-0}" -ge $((t0 - 5)) ]
for k in k70a k70b k70c; do
	n=$(note_of $k)
	diag "$k clock_check: $n"
	check "a: $k has a journal note saying its time was unknown" \
	    sh -c "echo '$n' | grep -q 'unknown'"
done
is "a: ok1 has no clock note" "$(note_of ok1)" ""
fs=$(sql "SELECT first_seen_at FROM outbox WHERE record_key = 'k70a'")
check "a: k70a's age counts from when the worker first saw it ($fs)" \
    [ "${fs:-0}" -ge $((t0 - 5)) ]
lc=$(st -r '[.contacts[] | select(.phone == "+15550980001") | .custom_attributes.last_call_at] | first // 0')
check "a: k70a's contact has last_call_at at delivery, not 1970 ($lc)" \
    [ "${lc:-0}" -ge $((t0 - 5)) ]

# --- b. a record truly older than max_age ---------------------------------
setup old "max_age = 1d"
week=$(($(date +%s) - 8 * 86400))
call old1 +15550980011 >"$T/old1.jsonl"
call old2 +15550980012 >"$T/old2.jsonl"
sql "INSERT INTO outbox (workspace, record_key, payload, enqueued_at) VALUES ('acme', 'old1', '$(cat "$T/old1.jsonl")', $week)"
# old2 failed before: the worker's own columns, as an earlier run left them.
sql "INSERT INTO outbox (workspace, record_key, payload, enqueued_at, attempts, last_error) VALUES ('acme', 'old2', '$(cat "$T/old2.jsonl")', $week, 3, 'HTTP 503: Service Unavailable')"
worker_bg
wait_for "every record settled" 40 settled
worker_stop
m1=$(sql "SELECT message FROM dead_letter d JOIN outbox o ON o.id = d.outbox_id WHERE o.record_key = 'old1'")
m2=$(sql "SELECT message FROM dead_letter d JOIN outbox o ON o.id = d.outbox_id WHERE o.record_key = 'old2'")
diag "old1: $m1"
diag "old2: $m2"
is "b: a week-old record is dead-lettered max_age" \
    "$(sql "SELECT group_concat(reason) FROM dead_letter")" "max_age,max_age"
check "b: never tried: its message says no attempt failed" \
    sh -c "echo '$m1' | grep -q 'no attempt failed'"
check "b: tried before: its message quotes the last error" \
    sh -c "echo '$m2' | grep -q 'last error: HTTP 503: Service Unavailable'"
check "b: no message points at attempts (\"see attempts\")" \
    sh -c "! sqlite3 '$DB' 'SELECT message FROM dead_letter' | grep -q 'see attempts'"

# --- c. the worker's own clock at 1970 ------------------------------------
setup worker1970
call w1 +15550980021 >"$T/w1.jsonl"
enqueue_sql "$T/w1.jsonl"
enq=$(sql "SELECT enqueued_at FROM outbox WHERE record_key = 'w1'")
worker_bg LD_PRELOAD="$FT_PRELOAD" FAKETIME="@1970-01-01 00:00:00" \
    FAKETIME_DONT_FAKE_MONOTONIC=1
wait_for "w1 settled" 40 settled
worker_stop
snap
is "c: delivered by a worker whose clock reads 1970" "$(state_of w1)" done
cw=$(conv_at w1)
is "c: the conversation is dated when the call was enqueued, not 1970" \
    "$cw" "$enq"
is "c: no 1970 first_seen_at was stored" \
    "$(sql "SELECT coalesce(first_seen_at, 'null') FROM outbox WHERE record_key = 'w1'")" null
echo "1..$TAPN"
