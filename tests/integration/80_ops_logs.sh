#!/bin/sh
# 80_ops_logs: what callsyncd logs, and how.
#   a. without -v: the start-up line (version, config, database, schema
#      version, workspaces), one GET /me line per workspace, the exit
#      line, and warnings; no per-record lines;
#   b. -v adds each record's story (info), -vv every request (debug);
#   c. stderr not a terminal: every line starts with its <N> priority;
#   d. log_format = json: one JSON object a line with time (RFC 3339
#      UTC), level, workspace, key, step, message;
#   e. no token in any of these logs (full drains at -vv and in JSON).
. "$(dirname "$0")/lib.sh"
t_setup
sim_start --attributes last_call_at:date,last_call_outcome,last_call_escalated:boolean,last_call_nps:integer || exit 1
write_conf
"$BIN/callsync" --config "$T/callsync.conf" init >/dev/null 2>&1
gen_calls 6 3 a >"$T/a.jsonl"
"$BIN/callsync" --config "$T/callsync.conf" enqueue "$T/a.jsonl" >/dev/null 2>&1

# ---------------------------------------------------------------- (a)
"$BIN/callsyncd" --config "$T/callsync.conf" --drain 2>"$T/v0.log"
is "drain exits 0" "$?" 0
diag "default log: $(tr '\n' '|' <"$T/v0.log")"
check "start line names version, config, database, schema version, workspace" \
    grep -q "callsyncd [0-9][^ ]* starting: config $T/callsync.conf, database $DB, schema version [0-9][0-9]*, 1 workspace: acme" "$T/v0.log"
check "one GET /me line for acme with the admin and app names" \
    sh -c "[ \$(grep -c 'acme: GET /me ok: admin .* (id [0-9]*), app ' '$T/v0.log') -eq 1 ]"
check "exit line" grep -q 'exiting: 6 delivered' "$T/v0.log"
is "no per-record line without -v" "$(grep -c ': delivered' "$T/v0.log")" 0
is "no request line without -v" "$(grep -c ' -> [0-9]' "$T/v0.log")" 0

# ---------------------------------------------------------------- (b)
gen_calls 4 2 b >"$T/b.jsonl"
"$BIN/callsync" --config "$T/callsync.conf" enqueue "$T/b.jsonl" >/dev/null 2>&1
"$BIN/callsyncd" --config "$T/callsync.conf" --drain -v 2>"$T/v1.log"
is "-v: one delivered line per record" "$(grep -c ': delivered' "$T/v1.log")" 4
is "-v: no request lines" "$(grep -c ' -> [0-9]' "$T/v1.log")" 0
gen_calls 4 2 c >"$T/c.jsonl"
"$BIN/callsync" --config "$T/callsync.conf" enqueue "$T/c.jsonl" >/dev/null 2>&1
"$BIN/callsyncd" --config "$T/callsync.conf" --drain -vv 2>"$T/v2.log"
check "-vv: request lines" sh -c "[ \$(grep -c ' -> [0-9]' '$T/v2.log') -ge 8 ]"

# ---------------------------------------------------------------- (c)
is "every line has a <N> priority prefix" \
    "$(cat "$T/v0.log" "$T/v1.log" "$T/v2.log" | grep -vc '^<[0-7]>')" 0
check "start line at <5> (notice)" grep -q '^<5>callsyncd .* starting' "$T/v0.log"
check "delivered at <6> (info)" grep -q '^<6>acme/.*: delivered' "$T/v1.log"
check "requests at <7> (debug)" grep -q '^<7>acme/.* -> [0-9]' "$T/v2.log"
"$BIN/callsyncd" --config "$T/callsync.conf" --frobnicate 2>/dev/null
is "usage error exits 2" "$?" 2

# ---------------------------------------------------------------- (d)
sed -i 's/^\[worker\]$/[worker]\nlog_format = json/' "$T/callsync.conf"
"$BIN/callsyncd" -n --config "$T/callsync.conf" >/dev/null
is "log_format = json passes -n" "$?" 0
gen_calls 4 2 d >"$T/d.jsonl"
"$BIN/callsync" --config "$T/callsync.conf" enqueue "$T/d.jsonl" >/dev/null 2>&1
sim_ctl '{"p_5xx":0.3}'
for i in 1 2 3; do
	timeout 60 "$BIN/callsyncd" --config "$T/callsync.conf" --drain -vv \
	    2>>"$T/json.log" && break
	sleep 1
done
sim_ctl '{"p_5xx":0}'
runs=0
while [ $runs -lt 30 ]; do
	runs=$((runs + 1))
	timeout 60 "$BIN/callsyncd" --config "$T/callsync.conf" --drain -vv \
	    2>>"$T/json.log" && break
	wait_for "a lane head to be due" 30 lane_head_due || break
done
is "the JSON drain delivered all 4" \
    "$(sql "SELECT count(*) FROM outbox WHERE record_key LIKE 'd%' AND state='done'")" 4
n=$(wc -l <"$T/json.log")
check "JSON log has lines ($n)" [ "$n" -gt 5 ]
is "every line is one JSON object with the six fields" \
    "$(jq -c 'select((keys|sort) != ["key","level","message","step","time","workspace"])' "$T/json.log" 2>&1 | wc -l)" 0
is "time is RFC 3339 UTC" \
    "$(jq -r '.time' "$T/json.log" | grep -cv '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z$')" 0
is "levels are syslog names" \
    "$(jq -r '.level' "$T/json.log" | grep -cv '^\(err\|warning\|notice\|info\|debug\)$')" 0
# jqany COND: some line of the JSON log satisfies COND.
jqany() { jq -s -e "any(.[]; $1)" "$T/json.log" >/dev/null; }
check "a delivered line: workspace acme, key d*, step null" \
    jqany '.workspace=="acme" and ((.key // "")|startswith("d")) and .step==null and (.message|startswith("delivered"))'
check "a request line (debug) carries workspace and key" \
    jqany '.workspace=="acme" and .key != null and .level=="debug" and (.message|test(" -> [0-9]+"))'
check "a retry line (5xx) carries its step, e.g. contact or tag:NAME" \
    jqany '.workspace=="acme" and .key != null and .step != null and (.message|test("retry in"))'
check "the GET /me line: workspace acme, no key" \
    jqany '.workspace=="acme" and .key==null and (.message|startswith("GET /me"))'
check "the start line: no workspace" \
    jqany '.workspace==null and (.message|test("starting: config"))'
diag "json sample: $(grep -m1 '"step":"[a-z]' "$T/json.log")"

# ---------------------------------------------------------------- (e)
cat "$T"/*.log >"$T/all.logs"
check "logs are not empty" test -s "$T/all.logs"
is "no token in any log" "$(grep -c "$SIM_TOKEN" "$T/all.logs")" 0
echo "1..$TAPN"
