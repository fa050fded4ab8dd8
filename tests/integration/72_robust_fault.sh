#!/bin/sh
# Robustness: I/O faults in the worker's own database writes (libfiu:
# write/pwrite/fsync/fdatasync fail at random while it drains).  When the
# faults stop, every record is done within about one lease: no record
# stays 'inflight' under a lease that keeps being renewed with nobody
# working on it; nothing is written twice to Intercom; nothing is
# dead-lettered for the worker's own disk trouble.
. "$(dirname "$0")/lib.sh"
t_setup
N=50
LEASE=5
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sql_ge() { [ "$(sql "$1")" -ge "$2" ]; }
FAULTS="posix/io/rw/pwrite posix/io/rw/write posix/io/sync/fdatasync posix/io/sync/fsync"
P=${FIU_P:-0.05}

# Does libfiu reach SQLite's writes on this system?  (LD_PRELOAD of
# fiu_posix_preload.so; SQLite writes with pwrite.)
sqlite3 "$T/probe.db" 'PRAGMA journal_mode=WAL; CREATE TABLE t (x);' >/dev/null 2>&1
if ! command -v fiu-run >/dev/null || ! command -v fiu-ctrl >/dev/null; then
	echo "ok 1 # SKIP fiu-run/fiu-ctrl not installed (libfiu)"
	exit 0
fi
if fiu-run -x -f "" -c 'enable name=posix/io/rw/pwrite' \
    sqlite3 "$T/probe.db" 'INSERT INTO t VALUES (1);' >/dev/null 2>&1; then
	echo "ok 1 # SKIP libfiu cannot inject into SQLite's pwrite on this system (LD_PRELOAD ineffective)"
	exit 0
fi
ok "libfiu injects into SQLite's pwrite (a failing INSERT under fiu-run)"
# fiu_exec CMD...: exec CMD with libfiu's POSIX preload and remote
# control on $T/fiu-<pid>.  Under ASan the ASan runtime must come first
# in LD_PRELOAD (fiu-run puts its own libraries first: the sanitized
# worker then aborts or crashes at start), so set the environment
# fiu-run would set, with libasan in front.
fiu_exec() {
	case "$BIN" in *asan*)
		asan=$(cc -print-file-name=libasan.so 2>/dev/null)
		exec env FIU_ENABLE="" FIU_CTRL_FIFO="$T/fiu" \
		    LD_PRELOAD="$asan /usr/lib/fiu/fiu_run_preload.so /usr/lib/fiu/fiu_posix_preload.so" "$@" ;;
	esac
	exec fiu-run -x -f "$T/fiu" "$@"
}

sim_start --seed 72 --latency 20 --jitter 30 || exit 1
write_conf "max_attempts = 3"
sed -i "s/^lease = 30\$/lease = $LEASE/" "$T/callsync.conf"
"$BIN/callsync" --db "$DB" init >/dev/null 2>&1
gen_calls $N $((N / 2)) fl >"$T/calls.jsonl"
enqueue_sql "$T/calls.jsonl"
is "$N records enqueued" "$(sql 'SELECT count(*) FROM outbox')" "$N"

# fiu-run (or env) execs the worker: $! is the worker.  Its control fifos are
# $T/fiu-<pid>.{in,out}.
(fiu_exec "$BIN/callsyncd" --config "$T/callsync.conf" -d -vv) 2>"$T/w.log" &
W=$!; PIDS="$PIDS $W"
wait_for "a few records delivered before the faults" 20 sql_ge "SELECT count(*) FROM outbox WHERE state='done'" 3
check "worker runs under fiu-run and delivers" [ $? -eq 0 ]
fctl() { timeout 10 fiu-ctrl -f "$T/fiu" -c "$1" $W; }
n0=$(sql "SELECT count(*) FROM outbox WHERE state='done'")
for f in $FAULTS; do fctl "enable_random name=$f,probability=$P" || diag "fiu-ctrl enable $f failed"; done
diag "faults on (p=$P: $FAULTS) with $n0 of $N done"
# Faults stay on while the worker gets through 20 more records (or 10 s).
wait_for "20 more records done under faults" 10 sql_ge "SELECT count(*) FROM outbox WHERE state='done'" $((n0 + 20))
if kill -0 $W 2>/dev/null; then
	for f in $FAULTS; do fctl "disable name=$f"; done
fi
toff=$(date +%s)
n1=$(sql "SELECT count(*) FROM outbox WHERE state='done'")
diag "faults off with $n1 of $N done; $(grep -ci 'disk I/O\|I/O error\|cannot' "$T/w.log") I/O complaints in the log"
check "the worker survived the faults" kill -0 $W
wait_for "every record done" $((LEASE + 25)) sql_is "SELECT count(*) FROM outbox WHERE state<>'done'" 0
check "one lease ($LEASE s) after the faults stop, every record is done (took $(( $(date +%s) - toff )) s)" [ $? -eq 0 ]
sql "SELECT record_key||' '||state||' owner='||coalesce(lease_owner,'-')||' lease_in='||coalesce(lease_until-unixepoch(),'-') FROM outbox WHERE state<>'done' LIMIT 5" |
    sed 's/^/# left: /'
is "no record stuck inflight (its lease renewed, nobody working on it)" "$(sql "SELECT count(*) FROM outbox WHERE state='inflight'")" 0
is "zero records dead-lettered" "$(sql "SELECT count(*) FROM outbox WHERE state='dead'")" 0
[ "$(sql "SELECT count(*) FROM dead_letter")" -gt 0 ] && diag "dead: $(sql "SELECT reason||': '||substr(message,1,80) FROM dead_letter LIMIT 3" | tr '\n' '|')"
if kill -0 $W 2>/dev/null; then
	kill -TERM $W; wait $W
	is "worker exits 0 on SIGTERM" "$?" 0
else
	wait $W; rc=$?
	not_ok "worker exits 0 on SIGTERM (it had already exited with $rc)"
	tail -3 "$T/w.log" | sed 's/^/# /'
fi
is "no sanitizer report in the worker log" "$(grep -c 'AddressSanitizer\|runtime error:' "$T/w.log")" 0
# Whatever the worker left, a clean run finishes; then count effects.
drain_until_done 10 60 >/dev/null
snap
exactly_once_checks
st -r '.conversations[].body' | grep -o 'cs[0-9a-f]\{16\}' | sort | uniq -d | head -3 | sed 's/^/# duplicate marker: /'
