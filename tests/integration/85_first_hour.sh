#!/bin/sh
# 85_first_hour: the frictions a new operator met on a fresh clone.
#   a. make demo builds only what tests/demo.sh runs (no unit tests, no
#      crash-hook build);
#   b. a configuration with several mistakes reports them all in one pass,
#      each on its own line with its line number (callsyncd -n, callsync);
#   c. callsync status with a broken configuration shows the database it
#      names, with a warning, exit 0;
#   d. a missing database directory: callsyncd -n warns naming it and the
#      fix; callsync init and the worker fail naming it and the fix;
#   e. callsyncd on a terminal (script(1)), without -d, prints its start
#      and serving lines;
#   f. 120 records dropping the same attribute log 3 lines (1st, 10th,
#      100th, with counts), not 120; every record's journal says it;
#   g. callsync context: the snippet has no "ref KEY csXXXX" marker and
#      the date attribute is a date, not epoch seconds;
#   h. after a clean stop status says plainly that no worker runs;
#   i. README/guide: a missing allowed attribute warns (no pause); the
#      example's header does not claim every key is a default.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
CSD="$BIN/callsyncd"

# ---------------------------------------------------------------- (a)
make -n demo O="$T/o" B="$T/b" >"$T/demo.n" 2>&1
is "make -n demo exits 0" "$?" 0
check "make demo builds the simulator" grep -q "$T/b/intercom-sim" "$T/demo.n"
is "make demo builds no unit test" "$(grep -c 'tests/unit\|/tests/t_' "$T/demo.n")" 0
is "make demo builds no crash-hook worker" "$(grep -c 'callsyncd-hooks\|CALLSYNC_TEST_HOOKS' "$T/demo.n")" 0

# ---------------------------------------------------------------- (b)
cat >"$T/bad.conf" <<CONF
[worker]
database = $T/outbox.db
frobnicate = 1
retry_max = soon

[workspace acme]
admin_id = abc
colour = blue
[bogus]
foo = 1
[workspace acme2]
this is not a key
CONF
chmod 600 "$T/bad.conf"
"$CSD" -n --config "$T/bad.conf" >"$T/n.out" 2>&1
is "callsyncd -n exits 1" "$?" 1
is "every mistake reported, one line each (lines 3 4 7 8 9 12)" \
    "$(sed -n "s#^callsyncd: $T/bad.conf:\([0-9]*\): .*#\1#p" "$T/n.out" | tr '\n' ' ')" "3 4 7 8 9 12 "
check "the keys of the unknown section are not reported" sh -c "! grep -q 'foo' '$T/n.out'"
"$CS" --config "$T/bad.conf" ls >"$T/ls.out" 2>&1
is "callsync reports the six too" "$(grep -c "^callsync: $T/bad.conf:[0-9]*: " "$T/ls.out")" 6

# ---------------------------------------------------------------- (c)
"$CS" --db "$DB" init >/dev/null 2>&1
sql "INSERT INTO outbox (workspace, record_key, payload) VALUES ('acme', 'k1', '{\"type\":\"call\",\"call_id\":\"k1\",\"caller\":{\"phone\":\"+15550001001\"},\"summary\":\"s\"}')"
"$CS" --config "$T/bad.conf" status >"$T/st.out" 2>"$T/st.err"
is "status with a broken configuration: exit 0" "$?" 0
check "... warns that it shows the database without it" grep -q "status: $T/bad.conf has errors (above): showing the database $T/outbox.db without it" "$T/st.err"
check "... and shows the database's workspace" grep -q '^acme ' "$T/st.out"

# ---------------------------------------------------------------- (d)
SIM_URL=http://127.0.0.1:9
write_conf
sed -i "s#^database = .*#database = $T/nodir/outbox.db#" "$T/callsync.conf"
"$CSD" -n --config "$T/callsync.conf" >"$T/d1.out" 2>&1
is "callsyncd -n: the configuration is OK (exit 0)" "$?" 0
check "callsyncd -n warns: the directory and the fix" grep -q "warning: $T/nodir/outbox.db: the directory of the database, $T/nodir, does not exist; create it .* install -d -o callsync -g callsync -m 0750 $T/nodir" "$T/d1.out"
cs init >"$T/d2.out" 2>&1
is "callsync init: exit 1" "$?" 1
check "callsync init names the directory and the fix" grep -q "directory of the database, $T/nodir, does not exist; create it.*install -d" "$T/d2.out"
timeout 20 "$CSD" --config "$T/callsync.conf" --drain >"$T/d3.out" 2>&1
is "the worker: exit 1" "$?" 1
check "the worker names the directory and the fix" grep -q "directory of the database, $T/nodir, does not exist; create it.*install -d" "$T/d3.out"

# ---------------------------------------------------------------- (e)
rm -f "$DB"
sim_start --attributes plan_interest,last_call_at:date || exit 1
write_conf
cs init >/dev/null 2>&1
PORT=$(rport)
sed -i "s/^\[worker\]\$/[worker]\nlisten = 127.0.0.1:$PORT/" "$T/callsync.conf"
script -qec "timeout -s INT 3 $CSD --config $T/callsync.conf" /dev/null >"$T/tty.out" 2>&1
check "on a terminal without -d: the start line" grep -q "^callsyncd: callsyncd [0-9.]* starting: config $T/callsync.conf" "$T/tty.out"
check "on a terminal without -d: where it serves" grep -q "^callsyncd: serving /livez, /healthz, /metrics, /ui, /v1/context and /v1/articles on 127.0.0.1:$PORT" "$T/tty.out"
check "on a terminal: no <N> prefixes" sh -c "! grep -q '^<[0-9]>' '$T/tty.out'"

# ---------------------------------------------------------------- (f)
i=0
while [ $i -lt 120 ]; do
	i=$((i + 1))
	printf '{"type":"call","call_id":"att-%d","caller":{"phone":"+1555%07d"},"summary":"s %d","attributes":{"callback_requested":true}}\n' $i $i $i
done >"$T/att.jsonl"
enqueue_sql "$T/att.jsonl"
drain_until_done 10 240
is "120 records delivered" "$(sql "SELECT count(*) FROM outbox WHERE state = 'done' AND record_key LIKE 'att-%'")" 120
n=$(grep -c 'attribute callback_requested dropped' "$T/worker.log")
is "the dropped attribute is logged 3 times, not 120" "$n" 3
check "the 100th says so" grep -q 'attribute callback_requested dropped, .* (100 records so far)' "$T/worker.log"
is "every record's journal has the warning" "$(sql "SELECT count(*) FROM journal WHERE step = 'attr_check'")" 120

# ---------------------------------------------------------------- (g)
printf '{"type":"call","call_id":"ctx-1","caller":{"phone":"+15550009999"},"summary":"Wants a callback about the invoice","started_at":"2026-11-02T10:00:00Z"}\n' >"$T/ctx.jsonl"
enqueue_sql "$T/ctx.jsonl"
drain_until_done 5 60
listen_start "$T/callsync.conf" "$T/w2.log" || exit 1
cs context --phone +15550009999 >"$T/ctx.out" 2>&1
is "callsync context exits 0" "$?" 0
sed 's/^/# /' "$T/ctx.out" | head -8
check "the snippet is the summary" grep -q 'Wants a callback about the invoice' "$T/ctx.out"
is "no reference marker in the snippet" "$(grep -c 'ref ctx-1\|cs[0-9a-f]\{16\}' "$T/ctx.out")" 0
check "last_call_at is a date" grep -q '^  last_call_at = 2026-11-02T10:00:00Z' "$T/ctx.out"
is "no epoch seconds (attributes, times)" "$(grep -c -e '= [0-9]\{9,\}$' -e 'updated [0-9]\{9,\}' -e 'as of [0-9]\{9,\}' "$T/ctx.out")" 0
curl -s "$H/v1/context?workspace=acme&phone=%2B15550009999" >"$T/ctx.json"
is "the API's snippet has no marker either" "$(jq -r '.conversations[0].snippet' "$T/ctx.json" | grep -c 'cs[0-9a-f]\{16\}')" 0

# ---------------------------------------------------------------- (h)
kill -TERM $WPID; wait $WPID 2>/dev/null
cs status >"$T/st2.out" 2>&1
check "after a clean stop: no worker is running, plainly" grep -q '^no worker is running' "$T/st2.out"
is "no schema version talk" "$(grep -c 'schema version' "$T/st2.out")" 0

# ---------------------------------------------------------------- (i)
check "README: a missing allowed attribute does not pause" grep -q 'does not pause anything' README.md
check "guide: ... is not a pause" grep -q 'is not a pause: it costs only that' docs/operations.md
is "the example's header claims no default for every key" "$(grep -c 'Every key below is set to its default' callsync.conf.example)" 0
echo "1..$TAPN"
