#!/bin/sh
# 83_ops_cli: rough edges a new user meets first.
#   a. callsyncd --version / -V and callsync --version print the version;
#   b. CALLSYNC_CONFIG stands for --config, for callsync (when neither
#      --config nor --db is given) and callsyncd (when -f is not given);
#      a missing file named there is an error that names it.
. "$(dirname "$0")/lib.sh"
t_setup
CS="$BIN/callsync"
v=$("$BIN/callsyncd" --version); rc=$?
is "callsyncd --version exits 0" "$rc" 0
check "callsyncd --version: 'callsyncd X.Y.Z' ($v)" sh -c "echo '$v' | grep -q '^callsyncd [0-9][0-9.]*[0-9a-z.-]*\$'"
is "callsyncd -V is the same" "$("$BIN/callsyncd" -V)" "$v"
cv=$("$CS" --version)
is "callsync --version: same version" "$(echo "$cv" | cut -d' ' -f2)" "$(echo "$v" | cut -d' ' -f2)"

SIM_URL=http://127.0.0.1:9
write_conf
"$CS" --config "$T/callsync.conf" init >/dev/null 2>&1
out=$(CALLSYNC_CONFIG=$T/callsync.conf "$CS" status 2>&1); rc=$?
is "CALLSYNC_CONFIG: callsync status exits 0" "$rc" 0
check "CALLSYNC_CONFIG: status shows the config's workspace" sh -c "printf '%s\n' '$out' | grep -q '^acme '"
out=$(CALLSYNC_CONFIG=$T/callsync.conf "$CS" --db "$T/other.db" init 2>&1)
check "--db wins over CALLSYNC_CONFIG" test -s "$T/other.db"
out=$(CALLSYNC_CONFIG=$T/callsync.conf "$BIN/callsyncd" -n 2>&1); rc=$?
is "CALLSYNC_CONFIG: callsyncd -n exits 0" "$rc" 0
is "CALLSYNC_CONFIG: callsyncd -n says configuration OK" "$out" "configuration OK"
out=$(CALLSYNC_CONFIG=$T/missing.conf "$CS" status 2>&1); rc=$?
is "CALLSYNC_CONFIG missing: callsync exits 1" "$rc" 1
check "... and names the file" sh -c "printf '%s' '$out' | grep -qF '$T/missing.conf'"
out=$(CALLSYNC_CONFIG=$T/missing.conf "$BIN/callsyncd" -n 2>&1); rc=$?
is "CALLSYNC_CONFIG missing: callsyncd -n exits 1" "$rc" 1
check "... and names the file" sh -c "printf '%s' '$out' | grep -qF '$T/missing.conf'"
echo "1..$TAPN"
