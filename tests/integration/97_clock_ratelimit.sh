#!/bin/sh
# The rate-limit wait is judged on Intercom's clock (issue 20, item 3).
# X-RateLimit-Reset is an instant on Intercom's clock; the box's clock
# may be hours off (no RTC, no NTP yet).  The wait is Reset minus the
# answer's own Date header, bounded by Intercom's 10-second window, and
# a wait over a few seconds is logged.
#
# a. worker clock 3 h behind (libfaketime): a reset 5 s ahead must not
#    become a 3-hour wait (before: every record inflight, no log line).
# b. worker clock 3 h ahead: the reset must not look past (before: the
#    worker sent into the exhausted window at once).
# c. a hostile answer: Remaining 0 and a Reset a day ahead: the wait is
#    capped at the window and logged, naming the workspace and the
#    seconds (before: a day's silent wait).
# d. the simulator's own clock 3 h ahead (clock_skew_s): a. without
#    libfaketime.
#
# The simulator's first answer says Remaining 0 and a Reset 5 s (c: a
# day) after its Date (rl_hostile_next); the worker must wait that long,
# judged on Intercom's clock, and no longer than the window.  The wait is
# the longest gap between two requests the simulator received; every
# other assertion is on rows and the worker's log.
. "$(dirname "$0")/lib.sh"
t_setup
FT_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
# Under ASan its runtime must come first in LD_PRELOAD.
FT_PRELOAD=$FT_LIB
case "$BIN" in *asan*) FT_PRELOAD="$(cc -print-file-name=libasan.so) $FT_LIB" ;; esac
check "libfaketime is installed (Debian package faketime)" test -f "$FT_LIB"
ATTRS=last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer
N=2

# setup NAME [reset_s]: fresh simulator whose first answer says
# Remaining 0 and a Reset reset_s (5) after its Date; database, config.
setup() {
	[ -n "${SIM_PID:-}" ] && sim_stop
	DB=$T/$1.db
	LOG=$T/$1.log
	sim_start --attributes "$ATTRS" || exit 1
	sim_ctl "{\"rl_hostile_next\":1,\"rl_hostile_reset_s\":${2:-5}}"
	write_conf
	cs init >/dev/null 2>&1
	gen_calls $N $N "$1" >"$T/$1.jsonl"
	enqueue_sql "$T/$1.jsonl"
}
ndone() { sql "SELECT count(*) FROM outbox WHERE state = 'done'"; }
all_done() { [ "$(ndone)" -eq $N ]; }
worker_bg() {	# worker_bg [env...]: the daemon in the background
	env "$@" "$BIN/callsyncd" --config "$T/callsync.conf" -d 2>>"$LOG" &
	WPID=$!
	PIDS="$PIDS $WPID"
}
worker_stop() { kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; }
# gap: the longest pause (ms) between two requests the simulator got.
gap() { st '.requests.log | [range(1; length) as $i | .[$i].at_ms - .[$i - 1].at_ms] | max // 0'; }
# run_case NAME [env...]: the worker until every record is delivered
# (at most 40 s), then stopped; the simulator's state in $T/state.json.
run_case() {
	rc_name=$1; shift
	t0=$(date +%s)
	worker_bg "$@"
	wait_for "$N records delivered" 40 all_done
	took=$(($(date +%s) - t0))
	worker_stop
	snap
	diag "$rc_name: $(ndone) of $N delivered in $took s; longest pause between requests $(gap) ms"
}

# --- a. the worker's clock 3 h behind Intercom's -----------------------
# Before: the 5-s reset read as 3 h 5 s; every record stayed inflight.
setup behind
run_case "3 h behind" LD_PRELOAD="$FT_PRELOAD" FAKETIME=-10800 \
    FAKETIME_DONT_FAKE_MONOTONIC=1
is "3 h behind: every record delivered" "$(ndone)" $N
check "3 h behind: the 5-s wait was kept, not 3 h ($(gap) ms)" \
    [ "$(gap)" -ge 4000 ] && [ "$(gap)" -le 8000 ]
check "3 h behind: no wait of hours was logged" \
    sh -c "! grep -E 'waiting [0-9]{3,} s' '$LOG'"

# --- b. the worker's clock 3 h ahead -------------------------------------
# Before: the reset looked past, and the worker sent into the exhausted
# window at once.
setup ahead
run_case "3 h ahead" LD_PRELOAD="$FT_PRELOAD" FAKETIME=+10800 \
    FAKETIME_DONT_FAKE_MONOTONIC=1
is "3 h ahead: every record delivered" "$(ndone)" $N
check "3 h ahead: the 5-s wait was kept, not skipped ($(gap) ms)" \
    [ "$(gap)" -ge 4000 ] && [ "$(gap)" -le 8000 ]

# --- c. Remaining 0 and a Reset a day ahead -----------------------------
# Before: a day's wait, no log line.
setup hostile 86400
# While it waits: the log line, and what `callsync status` reads.
t0=$(date +%s)
worker_bg
wait_for "the wait to be logged" 15 grep -q "acme: rate limited: waiting" "$LOG"
rl_left=$(sql "SELECT coalesce(rate_limited_until - unixepoch(), 0) FROM workspace_state WHERE workspace = 'acme'")
diag "hostile reset: status shows rate limited for $rl_left more s"
check "hostile reset: status shows a wait of the window, not a day ($rl_left s)" \
    [ "${rl_left:-0}" -gt 0 ] && [ "${rl_left:-0}" -le 13 ]
wait_for "$N records delivered" 40 all_done
took=$(($(date +%s) - t0))
worker_stop
snap
diag "hostile reset: $(ndone) of $N delivered in $took s; longest pause between requests $(gap) ms"
grep "acme: .*\(waiting\|rate.limit\)" "$LOG" | head -3 | sed 's/^/# log: /'
is "hostile reset: every record delivered, not in a day" "$(ndone)" $N
check "hostile reset: the wait was the window plus jitter ($(gap) ms)" \
    [ "$(gap)" -ge 9000 ] && [ "$(gap)" -le 13000 ]
check "hostile reset: the day-long reset is logged with its seconds" \
    grep -Eq "acme: .*(8640[0-9]|8639[0-9]) s" "$LOG"
is "hostile reset: ... once" \
    "$(grep -Ec "acme: .*(8640[0-9]|8639[0-9]) s" "$LOG")" 1
check "hostile reset: the wait itself is logged, with its seconds" \
    grep -Eq "acme: rate limited: waiting (9|1[0-3]) s" "$LOG"

# --- d. the simulator's clock ahead of the box (no libfaketime) ---------
# a. from the other side: Intercom's clock (Date, Reset) 3 h ahead.
setup skew
sim_ctl '{"clock_skew_s":10800}'
curl -sf -D "$T/skew.hdr" -o /dev/null -H "Authorization: Bearer $SIM_TOKEN" "$SIM_URL/me"
sdate=$(sed -n 's/^[Dd]ate: //p' "$T/skew.hdr" | tr -d '\r')
sreset=$(sed -n 's/^[Xx]-[Rr]ate[Ll]imit-[Rr]eset: //p' "$T/skew.hdr" | tr -d '\r')
off=$(( $(date -d "$sdate" +%s) - $(date +%s) ))
check "skew: the simulator's Date is 3 h ahead ($off s)" \
    [ "$off" -ge 10790 ] && [ "$off" -le 10810 ]
check "skew: its Reset is within 10 s of its Date" \
    [ $((sreset - $(date -d "$sdate" +%s))) -le 10 ]
sim_ctl '{"rl_hostile_next":1,"rl_hostile_reset_s":5}'
run_case "skewed simulator"
is "skew: every record delivered" "$(ndone)" $N
check "skew: the 5-s wait was kept, not 3 h ($(gap) ms)" \
    [ "$(gap)" -ge 4000 ] && [ "$(gap)" -le 8000 ]
echo "1..$TAPN"
